"""Settings of the notify service, read from the environment (prefix ``LOTSE_NOTIFY_``)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lotse_kit.settings import var_dir
from lotse_kit.tokens import AuthSettings
from lotse_kit.webhook_targets import TargetPolicy

from lotse_notify.domain.delivery import Retries


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path
    auth: AuthSettings
    directory_url: str = "http://127.0.0.1:8001"
    routing_url: str = "http://127.0.0.1:8002"
    service_token: str | None = None
    """Scale mode: the token notify shows the directory and routing; embedded: one it issues itself."""
    referral_page_url: str = "http://127.0.0.1:8000/referrals/{id}"
    """The page a notification links to, ``{id}`` standing for the referral's id: the browser page where staff
    open the referral (Lotse web), not an API answer a browser cannot authenticate to."""
    amqp_url: str | None = None
    """RabbitMQ (scale mode): referral events come from notify's queue there, delivery jobs go to Celery
    workers, reports to ``lotse.events``. Unset: routing's change feed, an in-process worker, a feed."""
    celery_broker_url: str | None = None
    queue: str = "lotse.notify"
    """The queue of referral events (bound to ``referral.#``); its jobs' Celery queue is ``<queue>.deliveries``."""
    poll_seconds: float = 1.0
    """Without a broker: how often routing's and the directory's change feeds are read."""
    sweep_seconds: float = 5.0
    """How often deliveries due again (retries, lost jobs, expired leases) are sent."""
    lease_seconds: float = 60.0
    """How long a worker holds a delivery; a worker that died lets go after this."""
    channels_cache_seconds: float = 60.0
    retries: Retries = field(default_factory=Retries)
    webhook_timeout_seconds: float = 10.0
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)
    """Where webhooks may go, checked before every request (``LOTSE_WEBHOOK_ALLOWED_NETWORKS`` adds networks)."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "Lotse <lotse@localhost>"
    host: str = "127.0.0.1"
    port: int = 8003
    workers: int = 1
    threads: int = 4
    delivery_threads: int = 8
    """Threads that make delivery attempts: embedded, in the serving process (every attempt); in scale mode,
    in ``consume`` (the first attempt at each delivery it took in, while fewer than twice as many wait)."""
    consumers: int = 4
    """Scale mode: consumers (threads, each on its own connection) ``consume`` runs on the queue; each takes the
    events that wait (up to 50 prefetched) in one transaction."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        var = var_dir(env)
        p = "LOTSE_NOTIFY_"
        amqp = env.get(f"{p}AMQP_URL") or env.get("LOTSE_AMQP_URL") or None
        retries = Retries(
            attempts=int(env.get(f"{p}RETRY_ATTEMPTS", "10")),
            first=float(env.get(f"{p}RETRY_FIRST_SECONDS", "10")),
            longest=float(env.get(f"{p}RETRY_LONGEST_SECONDS", str(4 * 3600))),
        )
        return cls(
            database_url=env.get(f"{p}DATABASE_URL") or f"sqlite:///{var / 'notify.db'}",
            var_dir=var,
            auth=AuthSettings.from_env(env),
            directory_url=env.get(f"{p}DIRECTORY_URL", "http://127.0.0.1:8001").rstrip("/"),
            routing_url=env.get(f"{p}ROUTING_URL", "http://127.0.0.1:8002").rstrip("/"),
            service_token=env.get(f"{p}SERVICE_TOKEN") or None,
            referral_page_url=_page_url(env.get(f"{p}REFERRAL_PAGE_URL", "http://127.0.0.1:8000/referrals/{id}")),
            amqp_url=amqp,
            celery_broker_url=env.get(f"{p}CELERY_BROKER_URL") or amqp,
            queue=env.get(f"{p}QUEUE", "lotse.notify"),
            poll_seconds=float(env.get(f"{p}POLL_SECONDS", "1")),
            sweep_seconds=float(env.get(f"{p}SWEEP_SECONDS", "5")),
            lease_seconds=float(env.get(f"{p}LEASE_SECONDS", "60")),
            channels_cache_seconds=float(env.get(f"{p}CHANNELS_CACHE_SECONDS", "60")),
            retries=retries,
            webhook_timeout_seconds=float(env.get(f"{p}WEBHOOK_TIMEOUT_SECONDS", "10")),
            webhook_targets=TargetPolicy.from_env(env),
            smtp_host=env.get(f"{p}SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get(f"{p}SMTP_PORT", "25")),
            smtp_user=env.get(f"{p}SMTP_USER") or None,
            smtp_password=env.get(f"{p}SMTP_PASSWORD") or None,
            smtp_starttls=env.get(f"{p}SMTP_STARTTLS", "") in ("1", "true", "yes"),
            mail_from=env.get(f"{p}MAIL_FROM", "Lotse <lotse@localhost>"),
            host=env.get(f"{p}HOST", "127.0.0.1"),
            port=int(env.get(f"{p}PORT", "8003")),
            workers=int(env.get(f"{p}WORKERS", "1")),
            threads=int(env.get(f"{p}THREADS", "4")),
            delivery_threads=int(env.get(f"{p}DELIVERY_THREADS", "8")),
            consumers=int(env.get(f"{p}CONSUMERS", "4")),
        )


def _page_url(template: str) -> str:
    parts = urlsplit(template.replace("{id}", "x"))
    if template.count("{id}") != 1 or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"LOTSE_NOTIFY_REFERRAL_PAGE_URL must be an http(s) URL with one {{id}}, not {template!r}")
    return template
