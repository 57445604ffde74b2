"""Notify's Celery application (scale mode): broker settings, the delivery queue, the sweep's schedule, and
sending jobs. The tasks are registered by the worker (:mod:`lotse_notify.entrypoints.worker`); the consumer
only sends them by name."""

import logging
from collections.abc import Sequence
from pathlib import Path

from celery import Celery
from lotse_kit.jobs import SWEPT_JOBS, let_celery_log_here

log = logging.getLogger(__name__)

DELIVER = "lotse_notify.deliver"
SWEEP = "lotse_notify.sweep"


def make_celery(broker_url: str, queue: str, sweep_seconds: float, schedule_file: Path) -> Celery:
    let_celery_log_here("notify")
    app = Celery("lotse_notify", broker=broker_url, set_as_current=False)
    app.conf.update(
        SWEPT_JOBS,
        task_default_queue=queue,
        task_queues=None,
        task_create_missing_queues=True,
        beat_schedule={"sweep-deliveries": {"task": SWEEP, "schedule": sweep_seconds}},
        beat_schedule_filename=str(schedule_file),  # beat's own state, in the service's var folder
        broker_transport_options={"confirm_publish": True},
        # After a reconnect Celery lowers the prefetch count and raises it again as jobs are acknowledged,
        # from the thread that ran the job: with the threads pool that is a basic.qos on the connection the
        # worker's own thread reads, whose answer one of them then waits for forever (the worker stalled
        # after a broker restart in our fault test). Without the reduction the count stays as it is.
        worker_enable_prefetch_count_reduction=False,
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
