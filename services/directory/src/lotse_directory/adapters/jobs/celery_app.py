"""The directory's Celery application: broker settings, queue, the sweep's schedule, and sending jobs.

The tasks themselves are registered by the worker (:mod:`lotse_directory.entrypoints.worker`); the web
process only sends them by name, so it needs neither the tasks' code nor a result backend.
"""

import logging
from collections.abc import Collection

from celery import Celery
from lotse_kit.jobs import SWEPT_JOBS, let_celery_log_here

log = logging.getLogger(__name__)

INDEX_SERVICES = "lotse_directory.search.index_services"
SWEEP = "lotse_directory.search.sweep"
SWEEP_EVERY_SECONDS = 60.0


def make_celery(broker_url: str, queue: str) -> Celery:
    let_celery_log_here("directory")
    app = Celery("lotse_directory", broker=broker_url, set_as_current=False)
    app.conf.update(
        SWEPT_JOBS,
        task_default_queue=queue,
        beat_schedule={"sweep-search-index": {"task": SWEEP, "schedule": SWEEP_EVERY_SECONDS}},
    )
    return app


class CeleryJobs:
    """Sends the directory's background jobs."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def index_services(self, service_ids: Collection[str]) -> None:
        """Ask a worker to index these offers; on failure they stay due for the sweep."""
        if not service_ids:
            return
        try:
            self.app.send_task(INDEX_SERVICES, args=[sorted(service_ids)])
        except Exception:  # the change is committed; the sweep makes good what is not sent
            log.warning("could not send the indexing job for %d offers; the sweep will index them", len(service_ids))
