"""A service's HTTP server: gunicorn, a few processes with a few threads each, and per-process background work.

One Python process runs one request's Python code at a time, so a service runs a process per core with
threads for the time spent waiting. Each process builds its own app (database connections, caches) and
starts its own background threads (outbox relay, timers) once it runs (``started``).
"""

import ctypes
import ctypes.util
import gc
import json
import signal
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from lotse_kit.metrics import prepare_multiprocess, process_died

_M_ARENA_MAX = -8


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own heap (up to 8 per core), and a heap that grew for one request
    stays grown; two heaps per process keep a worker's resident memory near what it uses. Set in the
    master, inherited by the workers it forks; elsewhere than glibc, nothing happens."""
    name = ctypes.util.find_library("c")
    if name:
        mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
        if mallopt is not None:
            mallopt(_M_ARENA_MAX, arenas)


_FIELD_OF_STATUS = {414: "url", 431: "headers", 417: "Expect", 501: "Transfer-Encoding"}


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn answers itself (a request line too long, headers too large or broken, before any app
    sees the request): RFC 9457 problem+json like every other answer of the services, not an HTML page."""
    problem = {
        "type": "about:blank",
        "title": reason,
        "status": status_int,
        "detail": mesg or reason,
        "errors": [{"name": _FIELD_OF_STATUS.get(status_int, "request"), "reason": mesg or reason}]
        if status_int < 500
        else [],
    }
    body = json.dumps(problem).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class _RootLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's own lines (workers started, stopped, timed out) through the root logger, and so through
    :func:`lotse_kit.logs.configure_logging`; requests are logged by the app (route, status, request id)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
        self.error_log.propagate = True
        self.access_log.propagate = False


class ServiceServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(
        self,
        load: Callable[[], Flask],
        bind: str,
        workers: int,
        threads: int,
        started: Callable[[Flask], None] = lambda app: None,
        stopping: Callable[[Flask], None] = lambda app: None,
    ) -> None:
        self._load = load
        self._options = {"bind": bind, "workers": workers, "threads": threads}
        self._started = started
        self._stopping = stopping
        fewer_malloc_arenas()
        prepare_multiprocess()  # before a worker builds its app, and with it the first metric
        super().__init__()

    def load_config(self) -> None:
        def worker_started(worker: Any) -> None:
            self._started(worker.wsgi)
            # what is loaded now lives as long as the process: keep the collector from scanning it again
            # and again (a full collection over a large index paused requests for tens of milliseconds)
            gc.collect()
            gc.freeze()

        def worker_forked(_arbiter: Any, _worker: Any) -> None:
            # Until the worker sets its own handlers, it has the master's, which only queue a signal for a
            # master loop that no worker runs: a Ctrl-C in that moment was lost, and the worker outlived the
            # graceful timeout ("SIGKILL! Perhaps out of memory?"). The default action ends it instead.
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)

        def worker_stopping(_arbiter: Any, worker: Any) -> None:
            app = getattr(worker, "wsgi", None)
            if app is not None:  # a worker stopped while it still loaded its app has nothing to stop
                self._stopping(app)

        def worker_ended(_arbiter: Any, worker: Any) -> None:
            process_died(worker.pid)

        options = {
            **self._options,
            "worker_class": "gthread",
            "timeout": 120,  # a worker loading a large index at start must not be taken for hung
            "graceful_timeout": 10,
            "keepalive": 5,
            "control_socket_disable": True,  # one per user by default: a second server would take it over
            "post_fork": worker_forked,
            "post_worker_init": worker_started,
            "worker_exit": worker_stopping,
            "child_exit": worker_ended,
            "logger_class": _RootLogger,
        }
        for key, value in options.items():
            self.cfg.set(key, value)
        # gunicorn writes its own error pages through this one function (gunicorn.workers.base.handle_error)
        gunicorn_util.write_error = _write_problem

    def load(self) -> Flask:
        """Called in each worker process: its own connections, caches and threads."""
        return self._load()
