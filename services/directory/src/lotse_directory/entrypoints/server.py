"""The directory's HTTP server: gunicorn, a few processes with a few threads each.

One Python process serves one request's Python code at a time; a search at 100,000 offers costs a
few milliseconds of it, so the server runs a process per core (``LOTSE_DIRECTORY_WORKERS``) with
threads for the time spent waiting (``LOTSE_DIRECTORY_THREADS``). Each process builds its own
container: database connections, the embedded index's columns, an outbox relay (relays in
several processes share the outbox safely, see :mod:`lotse_kit.outbox`) and the writer of the
searches that found nothing (:class:`~lotse_directory.use_cases.search.MissLog`).
"""

import ctypes
import ctypes.util
import gc
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from lotse_directory import create_app
from lotse_directory.bootstrap import container_of
from lotse_directory.settings import Settings


def _worker_started(worker: Any) -> None:
    container = container_of(worker.wsgi)
    container.relay.start()
    container.search_use_case.miss_log.start()
    if container.search is not None:
        container.search.warm()  # load the embedded index before the first search waits for it
    # what is loaded now lives as long as the process: keep the collector from scanning it again and
    # again (a full collection over it paused requests for tens of milliseconds)
    gc.collect()
    gc.freeze()


def _worker_stopping(_arbiter: Any, worker: Any) -> None:
    container = container_of(worker.wsgi)
    container.search_use_case.miss_log.stop()
    container.relay.stop()


_M_ARENA_MAX = -8


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own heap (up to 8 per core), and a heap that grew for one search
    stays grown; two heaps per process keep a worker's resident memory near what it uses. Set in
    the master, inherited by the workers it forks; elsewhere than glibc, nothing happens."""
    name = ctypes.util.find_library("c")
    if name:
        mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
        if mallopt is not None:
            mallopt(_M_ARENA_MAX, arenas)


class DirectoryServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        _fewer_malloc_arenas()
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            "threads": s.threads,
            "worker_class": "gthread",
            "timeout": 120,  # a worker loading a large index at start must not be taken for hung
            "graceful_timeout": 10,
            "keepalive": 5,
            "control_socket_disable": True,  # one per user by default: a second server would take it over
            "post_worker_init": _worker_started,
            "worker_exit": _worker_stopping,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Called in each worker process: its own connections, index columns and relay."""
        return create_app(self.settings)
