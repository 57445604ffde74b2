"""The services' gunicorn setup: a worker forked a moment before a Ctrl-C still ends with it."""

import subprocess
import sys

CHECK = """
import signal
from flask import Flask
from lotse_kit.server import ServiceServer

server = ServiceServer(lambda: Flask("x"), "127.0.0.1:0", 1, 1)
signal.signal(signal.SIGINT, lambda *a: None)  # what the master's handlers do: keep the signal for its loop
server.cfg.post_fork(None, None)  # what gunicorn calls in the worker right after the fork
print([signal.getsignal(s) is signal.SIG_DFL for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)])
"""


def test_a_forked_worker_takes_the_default_action_on_a_stop_signal_until_it_sets_its_own() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[True, True, True]", done.stderr
