"""A job run by a forked child: its own result or error comes back, a dead child's work is redone here,
an unwanted child is ended, and a process with threads never forks."""

import subprocess
import sys
import textwrap
import threading

from lotse_kit.alongside import alongside

PRELUDE = """
import os, signal, threading
from lotse_kit.alongside import alongside
assert threading.active_count() == 1
parent = os.getpid()
"""


def _run(code: str) -> None:
    """Run ``code`` in a fresh single-threaded interpreter (a test run has threads, and then nothing forks)."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_child_does_the_work_and_its_result_comes_back() -> None:
    _run("""
        with alongside(lambda: (os.getpid(), [1, 2, 3])) as job:
            assert job.running
            child = job.pid
            pid, value = job.result()
        assert pid == child != parent and value == [1, 2, 3] and not job.running
    """)


def test_work_of_a_child_that_died_is_done_here() -> None:
    _run("""
        def work():
            if os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            return os.getpid()
        with alongside(work) as job:
            assert job.result() == parent
    """)


def test_an_error_is_raised_here_as_the_job_raises_it() -> None:
    _run("""
        def work():
            raise LookupError(f"raised in {os.getpid()}")
        try:
            with alongside(work) as job:
                job.result()
        except LookupError as error:
            assert str(error) == f"raised in {parent}"
        else:
            raise AssertionError("no error")
    """)


def test_a_child_whose_result_is_not_wanted_is_ended() -> None:
    _run("""
        import time
        try:
            with alongside(lambda: time.sleep(60)) as job:
                child = job.pid
                raise KeyError("the caller failed")
        except KeyError:
            pass
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass  # already reaped, as it should be
        else:
            raise AssertionError("the child was left behind")
    """)


def test_a_process_with_threads_runs_the_job_itself() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with alongside(threading.get_ident) as job:
            assert not job.running
            assert job.result() == threading.get_ident()
    finally:
        stop.set()
        other.join()
