"""A CPU-bound step done by a forked child while this process goes on: a second core for one Python job.

The child gets a copy of this process's memory at the fork (copy-on-write, no pickling of the input),
runs the function and sends its pickled result back through a pipe. Forking is safe only in a process
with one thread (a lock another thread held at the fork stays locked in the child), so elsewhere, and
where the platform cannot fork, the function simply runs at once, in this process. A child that dies
or fails leaves the work to this process: the caller always gets the function's own result or error.
"""

import logging
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Alongside(Generic[T]):
    """``fn`` started beside the caller; :meth:`result` waits for it."""

    def __init__(self, fn: Callable[[], T], fork: bool = True) -> None:
        self._fn = fn
        self._done = False
        self._value: T | None = None
        self.pid: int | None = None
        """The child's process id while one works (None: the function ran in this process)."""
        self._pipe = -1
        if fork and hasattr(os, "fork") and threading.active_count() == 1:
            self._start()
        else:
            self._finish(fn())

    def _start(self) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run, answer, leave without running this process's exit handlers
            os.close(read)
            status = 0
            try:
                payload = pickle.dumps(self._fn(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            except BaseException:  # the parent runs the function again and sees the error itself
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self.pid, self._pipe = pid, read

    @property
    def running(self) -> bool:
        """Whether a child works on it (False: the result is ready)."""
        return self.pid is not None

    def _finish(self, value: T) -> None:
        self._value, self._done = value, True

    def result(self) -> T:
        if not self._done:
            with os.fdopen(self._pipe, "rb") as answer:
                payload = answer.read()
            _, status = os.waitpid(self.pid or 0, 0)
            self.pid = None
            if status == 0 and payload:
                self._finish(pickle.loads(payload))  # noqa: S301 -- our own child's answer
            else:
                log.warning("the child process gave no result (status %s); running the job here", status)
                self._finish(self._fn())
        return self._value  # type: ignore[return-value]  # set by _finish

    def stop(self) -> None:
        """End a child whose result is no longer wanted."""
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGKILL)
        os.close(self._pipe)
        os.waitpid(self.pid, 0)
        self.pid = None


@contextmanager
def alongside(fn: Callable[[], T], fork: bool = True) -> Iterator[Alongside[T]]:
    """Run ``fn`` in a forked child (``fork``, and only in a single-threaded process) while the block runs;
    the child is ended if the block leaves without asking for the result."""
    job = Alongside(fn, fork)
    try:
        yield job
    finally:
        job.stop()
