"""Celery settings every Lotse job queue shares: jobs are sent after their change committed and a sweep
sends again whatever is still due, so a job is taken back when its worker dies and sending never holds a
request long (the services' Celery apps add their queue and schedule)."""

from typing import Any

from lotse_kit.logs import configure_logging

SWEPT_JOBS: dict[str, Any] = {
    "task_acks_late": True,  # a job whose worker died is delivered again ...
    "task_reject_on_worker_lost": True,  # ... also when the worker process was killed
    "task_ignore_result": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
    "broker_connection_timeout": 3,
    # If the broker is down the job stays due and the sweep sends it: the sender must not wait long.
    "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    "worker_hijack_root_logger": False,
}


def let_celery_log_here(service: str) -> None:
    """A Celery worker or beat of this process logs through :func:`lotse_kit.logs.configure_logging` (a receiver
    of Celery's ``setup_logging`` signal keeps Celery from setting up handlers of its own)."""
    from celery.signals import setup_logging

    setup_logging.connect(lambda **_: configure_logging(service), weak=False)
