"""The directory's Celery worker (scale mode): indexing jobs and the periodic sweep.

Run it with ``lotse-directory worker`` (``--beat`` also runs the sweep's schedule), or with
``celery -A lotse_directory.entrypoints.worker worker``.
"""

from typing import Any

from celery import Celery
from celery.signals import worker_init
from lotse_kit.probes import serve_probes_from_env

from lotse_directory.adapters.jobs.celery_app import INDEX_SERVICES, SWEEP
from lotse_directory.bootstrap import Container, build
from lotse_directory.settings import Settings

WORKER_METRICS_PORT = 9101
"""Where the worker answers /health, /ready and /metrics by default (``LOTSE_METRICS_PORT``)."""

RETRY: dict[str, Any] = {
    "autoretry_for": (Exception,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 10,  # then the offers stay due and the sweep tries again
}


def register(container: Container) -> Celery:
    """The worker's Celery app: the container's app with the directory's tasks."""
    if container.jobs is None or container.indexer is None:
        raise RuntimeError("the worker needs scale mode: set ELASTICSEARCH_URL")
    app, indexer = container.jobs.app, container.indexer
    worker_init.connect(
        lambda **_: serve_probes_from_env(WORKER_METRICS_PORT, container.checks(schema=False), container.collectors()),
        weak=False,
    )

    @app.task(name=INDEX_SERVICES, **RETRY)
    def index_services(service_ids: list[str]) -> int:
        """Index these offers if they are due (idempotent: an offer already current is skipped)."""
        return indexer.catch_up(service_ids)

    @app.task(name=SWEEP, **RETRY)
    def sweep() -> int:
        """Index every offer that is due (jobs that were never sent or gave up)."""
        return indexer.catch_up()

    return app


def __getattr__(name: str) -> Any:
    """``celery -A lotse_directory.entrypoints.worker`` finds ``app`` here, built from the environment."""
    if name == "app":
        return register(build(Settings.from_env()))
    raise AttributeError(name)
