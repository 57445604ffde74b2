"""Notify's Celery application (scale mode): broker settings, the delivery queue, the sweep's schedule, and
sending jobs. The tasks are registered by the worker (:mod:`lotse_notify.entrypoints.worker`); the consumer
only sends them by name."""

import logging
from collections.abc import Sequence
from pathlib import Path

from celery import Celery

log = logging.getLogger(__name__)

DELIVER = "lotse_notify.deliver"
SWEEP = "lotse_notify.sweep"


def make_celery(broker_url: str, queue: str, sweep_seconds: float, schedule_file: Path) -> Celery:
    app = Celery("lotse_notify", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_queues=None,
        task_create_missing_queues=True,
        task_acks_late=True,  # a job whose worker died is delivered again ...
        task_reject_on_worker_lost=True,  # ... also when the worker process was killed
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        beat_schedule={"sweep-deliveries": {"task": SWEEP, "schedule": sweep_seconds}},
        beat_schedule_filename=str(schedule_file),  # beat's own state, in the service's var folder
        worker_hijack_root_logger=False,
        broker_transport_options={"confirm_publish": True},
    )
    return app


class CeleryJobs:
    """Sends one delivery job per id."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, delivery_ids: Sequence[str]) -> None:
        for ident in delivery_ids:
            try:
                self.app.send_task(DELIVER, args=[ident])
            except Exception:  # committed already: the sweep sends what is not sent here
                log.warning("could not send delivery job %s; the sweep will", ident)
                return
