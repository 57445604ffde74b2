"""Notify's Celery worker (scale mode): the delivery task and the sweep.

Run it with ``lotse-notify worker`` (``--beat`` also runs the sweep's schedule; ``--pool``), which checks the
schema and becomes ``celery -A lotse_notify.entrypoints.worker worker``.

Two pools, measured in ``bench/notify.py``:

- ``threads`` (the default, 8 threads): an attempt mostly waits (for the receiver, the SMTP server, the
  database), so one process with a thread per attempt under way does it, in half the memory of prefork's
  tree and with more attempts at once. On a machine whose cores are all busy, though, one process (one
  interpreter lock) gets less of them than several and falls behind sooner. Celery hands a job's
  acknowledgement from the pool thread to the thread that reads the broker connection; the one call it
  would make on that connection from a pool thread (restoring the prefetch count after a reconnect) is
  switched off in :func:`lotse_notify.adapters.jobs.celery_app.make_celery`. The process relays the
  delivery reports it wrote and hears channel changes for its cache, in threads of its own.
- ``prefork`` (4 children): tasks run in child processes and the parent alone speaks to the broker. Each
  child keeps its own database connections, relays the delivery reports it wrote (relays in several
  processes take turns row by row) and hears channel changes for its own cache; the parent starts no threads
  before it forks and freezes its objects, so that the collector does not copy the pages the children share
  with it. Each child still copies ~22 MiB of its parent: CPython writes the reference count of every object
  it touches.

This module and what it imports load no web framework and no Alembic (``lotse_notify`` keeps its WSGI app in
``entrypoints.web``).
"""

import gc
import logging
from typing import Any

from celery import Celery
from celery.concurrency import get_implementation
from celery.concurrency.thread import TaskPool as ThreadsPool
from celery.signals import worker_init, worker_process_init, worker_shutdown
from lotse_kit.probes import serve_probes_from_env

from lotse_notify.adapters.jobs.celery_app import DELIVER, SWEEP, CeleryJobs
from lotse_notify.bootstrap import Container, build
from lotse_notify.settings import Settings

WORKER_METRICS_PORT = 9104
"""Where the worker answers /health, /ready and /metrics by default (``LOTSE_METRICS_PORT``)."""


def register(container: Container) -> Celery:
    """The worker's Celery app: the container's app with notify's tasks."""
    if not isinstance(container.jobs, CeleryJobs):
        raise RuntimeError("the worker needs scale mode: set LOTSE_AMQP_URL")
    app, deliveries = container.jobs.app, container.deliveries
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines are every connection's every step

    def at_start(sender: Any, **_: Any) -> None:
        serve_probes_from_env(WORKER_METRICS_PORT, container.checks(schema=False), container.collectors())
        if issubclass(get_implementation(sender.pool_cls), ThreadsPool):
            container.start_background("deliver")  # this process delivers
        else:
            gc.freeze()  # what exists now stays shared: no collection writes to (and so copies) its pages

    def in_child(**_: Any) -> None:  # prefork only
        container.engine.dispose(close=False)  # connections made before the fork stay the parent's
        container.start_background("deliver")

    worker_init.connect(at_start, weak=False)
    worker_process_init.connect(in_child, weak=False)
    worker_shutdown.connect(lambda **_: container.stop_background(), weak=False)

    @app.task(name=DELIVER)
    def deliver(delivery_id: str) -> str | None:
        """One attempt at a delivery, if it is due (idempotent: a delivery done or held elsewhere is left)."""
        state = deliveries.attempt(delivery_id)
        return state.value if state else None

    @app.task(name=SWEEP)
    def sweep() -> int:
        """Send jobs for every delivery due again (retries, lost jobs, leases run out)."""
        return container.sweep()

    return app


def __getattr__(name: str) -> Any:
    """``celery -A lotse_notify.entrypoints.worker`` finds ``app`` here, built from the environment."""
    if name == "app":
        return register(build(Settings.from_env()))
    raise AttributeError(name)
