"""Settings of the directory service, read from the environment (prefix ``LOTSE_DIRECTORY_``)."""

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from lotse_kit.settings import kept_secret, var_dir
from lotse_kit.tokens import AuthSettings
from lotse_kit.webhook_targets import TargetPolicy


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path
    auth: AuthSettings
    geocoder: str = "gazetteer"
    nominatim_domain: str = "nominatim.openstreetmap.org"
    nominatim_user_agent: str = "lotse-directory"
    stale_after_days: int = 365
    provider_link_days: int = 30
    """How long an offer's confirmation link for its provider holds."""
    max_body_bytes: int = 1_000_000
    max_import_bytes: int = 50_000_000
    max_unpacked_bytes: int = 50_000_000
    """What an uploaded CSV package may unpack to (larger: 413); the CLI's imports have no such limit."""
    max_import_files: int = 64
    """How many files an uploaded CSV package may hold (more: 422)."""
    host: str = "127.0.0.1"
    port: int = 8001
    workers: int = 2
    """Server processes (each holds its own copy of the embedded index's columns)."""
    threads: int = 4
    """Threads per server process."""
    elasticsearch_url: str | None = None
    elasticsearch_index: str = "lotse-directory-offers"
    celery_broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    celery_queue: str = "lotse.directory.jobs"
    amqp_url: str | None = None
    """RabbitMQ (scale mode): the directory's events go to ``lotse.events`` there; unset: in-process."""
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)
    """Where organisations' webhooks may point (``LOTSE_WEBHOOK_ALLOWED_NETWORKS`` adds networks)."""
    data_keys: tuple[str, ...] = ()
    """Fernet keys that seal webhook secrets at rest, newest first (``LOTSE_DIRECTORY_DATA_KEYS``); unset: one
    made once in ``var/directory-data-key``. Scale mode: set it, the same for every directory process."""
    demo_webhook_url: str = "http://127.0.0.1:8009/lotse"
    """Where the demo data's Jugendamt Witten wants webhooks (the demo receiver in deploy/demo)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        var = var_dir(env)
        p = "LOTSE_DIRECTORY_"
        url = env.get(f"{p}DATABASE_URL") or env.get("DATABASE_URL") or f"sqlite:///{var / 'directory.db'}"
        return cls(
            database_url=url,
            var_dir=var,
            auth=AuthSettings.from_env(env),
            geocoder=env.get(f"{p}GEOCODER", "gazetteer"),
            nominatim_domain=env.get(f"{p}NOMINATIM_DOMAIN", "nominatim.openstreetmap.org"),
            nominatim_user_agent=env.get(f"{p}NOMINATIM_USER_AGENT", "lotse-directory"),
            stale_after_days=int(env.get(f"{p}STALE_AFTER_DAYS", "365")),
            provider_link_days=int(env.get(f"{p}PROVIDER_LINK_DAYS", "30")),
            max_body_bytes=int(env.get(f"{p}MAX_BODY_BYTES", "1000000")),
            max_import_bytes=int(env.get(f"{p}MAX_IMPORT_BYTES", "50000000")),
            max_unpacked_bytes=int(env.get(f"{p}MAX_UNPACKED_BYTES", "50000000")),
            max_import_files=int(env.get(f"{p}MAX_IMPORT_FILES", "64")),
            host=env.get(f"{p}HOST", "127.0.0.1"),
            port=int(env.get(f"{p}PORT", "8001")),
            workers=int(env.get(f"{p}WORKERS", "2")),
            threads=int(env.get(f"{p}THREADS", "4")),
            elasticsearch_url=env.get(f"{p}ELASTICSEARCH_URL") or env.get("ELASTICSEARCH_URL") or None,
            elasticsearch_index=env.get(f"{p}ELASTICSEARCH_INDEX", "lotse-directory-offers"),
            celery_broker_url=env.get(f"{p}CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
            celery_queue=env.get(f"{p}CELERY_QUEUE", "lotse.directory.jobs"),
            amqp_url=env.get(f"{p}AMQP_URL") or env.get("LOTSE_AMQP_URL") or None,
            webhook_targets=TargetPolicy.from_env(env),
            data_keys=tuple(k.strip() for k in env.get(f"{p}DATA_KEYS", "").split(",") if k.strip()),
            demo_webhook_url=env.get(f"{p}DEMO_WEBHOOK_URL", "http://127.0.0.1:8009/lotse"),
        )

    def keys(self) -> tuple[str, ...]:
        """The data keys, newest first (the first seals, every one opens)."""
        if self.data_keys:
            return self.data_keys
        return (kept_secret(self.var_dir / "directory-data-key", lambda: Fernet.generate_key().decode()),)

    def link_key(self, purpose: str = "provider-link") -> bytes:
        """The key that signs links for ``purpose`` (providers' confirmation links, users' password links),
        derived from the newest data key: a new data key ends the links made before."""
        return hashlib.sha256(f"lotse-{purpose}:".encode() + self.keys()[0].encode()).digest()

    def miss_key(self) -> bytes:
        """The key of the hash that stands for a rare search's words (derived from the newest data key)."""
        return hashlib.sha256(b"lotse-search-miss:" + self.keys()[0].encode()).digest()
