"""Notify's Celery worker (scale mode): the delivery task and the sweep.

Run it with ``lotse-notify worker``, which runs ``celery -A lotse_notify.entrypoints.worker worker
--pool=gevent``; the sweep's schedule runs in ``lotse-notify beat``.

The worker is one process with the gevent pool: a delivery mostly waits (for the receiver, the SMTP server,
the database), and waiting greenlets cost a few kilobytes where a prefork child costs a whole interpreter
(the prefork tree of 4 held 457 MiB resident in our benchmark). Every greenlet runs on the one thread that
also speaks to the broker, so a job is acknowledged where it was received. (The threads pool acknowledges
from its pool threads on the connection the main loop reads from; py-amqp is not thread-safe, and after a
broker restart that garbled frames and stalled the worker in our fault test.) Celery applies gevent's
monkey patches before anything else is imported; psycopg, pika, urllib3 and smtplib then wait
cooperatively. Beside the jobs, the worker relays the delivery reports it wrote and hears channel changes
for its cache.
"""

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_init

from lotse_notify.adapters.jobs.celery_app import DELIVER, SWEEP, CeleryJobs
from lotse_notify.bootstrap import Container, build
from lotse_notify.settings import Settings


def register(container: Container) -> Celery:
    """The worker's Celery app: the container's app with notify's tasks."""
    if not isinstance(container.jobs, CeleryJobs):
        raise RuntimeError("the worker needs scale mode: set LOTSE_AMQP_URL")
    app, deliveries = container.jobs.app, container.deliveries

    def on_start(**_: Any) -> None:
        from gevent import monkey

        if not monkey.is_module_patched("socket"):
            raise RuntimeError("notify's worker runs the gevent pool: start it with `lotse-notify worker`")
        logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines are every connection's every step
        container.start_background("deliver")

    worker_init.connect(on_start, weak=False)

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
