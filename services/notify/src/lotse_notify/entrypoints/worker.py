"""Notify's Celery worker (scale mode): the delivery task and the sweep.

Run it with ``lotse-notify worker`` (``--beat`` also runs the sweep's schedule), which checks the schema and
becomes ``celery -A lotse_notify.entrypoints.worker worker --pool=prefork``.

The worker runs the prefork pool: tasks run in child processes and the parent alone speaks to the broker,
so each job is acknowledged by the thread that received it. (The threads pool acknowledges from its pool
threads on the connection the parent reads from; py-amqp is not thread-safe, and after a broker restart
that garbled frames and stalled the worker in our fault test.) The parent starts no threads of its own
before it forks; each child keeps its own database connections, relays the delivery reports it wrote
(relays in several processes take turns row by row) and hears channel changes for its own cache.

Memory: every process of the tree holds the same interpreter and libraries, so this module and what it
imports load no web framework and no Alembic (``lotse_notify`` keeps its WSGI app in ``entrypoints.web``), and
the parent freezes its objects before it forks, so that the collector does not copy the pages the children
share with it.
"""

import gc
import logging
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

from lotse_notify.adapters.jobs.celery_app import DELIVER, SWEEP, CeleryJobs
from lotse_notify.bootstrap import Container, build
from lotse_notify.settings import Settings


def register(container: Container) -> Celery:
    """The worker's Celery app: the container's app with notify's tasks."""
    if not isinstance(container.jobs, CeleryJobs):
        raise RuntimeError("the worker needs scale mode: set LOTSE_AMQP_URL")
    app, deliveries = container.jobs.app, container.deliveries
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines are every connection's every step

    def before_fork(**_: Any) -> None:
        gc.freeze()  # what exists now stays shared: no collection writes to (and so copies) its pages

    def in_child(**_: Any) -> None:
        container.engine.dispose(close=False)  # connections made before the fork stay the parent's
        container.start_background("deliver")

    worker_init.connect(before_fork, weak=False)
    worker_process_init.connect(in_child, weak=False)

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
