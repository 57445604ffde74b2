"""Notify's Celery worker (scale mode): the delivery task and the sweep.

Run it with ``lotse-notify worker`` (``--beat`` also runs the sweep's schedule), which checks the schema and
becomes ``celery -A lotse_notify.entrypoints.worker worker --pool=threads``.

The worker runs Celery's threads pool: an attempt mostly waits (for the receiver, the SMTP server, the
database), so one process with a thread per concurrent attempt does what prefork did with a child process
each, in less than half the memory (prefork's children each copied ~22 MiB of their parent, as CPython
writes the reference count of every object a child touches). Celery hands a job's
acknowledgement from the pool thread to the thread that reads the broker connection; the one call it would
make on that connection from a pool thread (restoring the prefetch count after a reconnect) is switched off
in :func:`lotse_notify.adapters.jobs.celery_app.make_celery`. The process relays the delivery reports it
wrote and hears channel changes for its cache, in threads of its own.

This module and what it imports load no web framework and no Alembic (``lotse_notify`` keeps its WSGI app in
``entrypoints.web``).
"""

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_shutdown

from lotse_notify.adapters.jobs.celery_app import DELIVER, SWEEP, CeleryJobs
from lotse_notify.bootstrap import Container, build
from lotse_notify.settings import Settings


def register(container: Container) -> Celery:
    """The worker's Celery app: the container's app with notify's tasks."""
    if not isinstance(container.jobs, CeleryJobs):
        raise RuntimeError("the worker needs scale mode: set LOTSE_AMQP_URL")
    app, deliveries = container.jobs.app, container.deliveries
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines are every connection's every step

    worker_init.connect(lambda **_: container.start_background("deliver"), weak=False)
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
