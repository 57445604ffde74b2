"""Settings of the routing service, read from the environment (prefix ``LOTSE_ROUTING_``)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from lotse_kit.settings import kept_secret, var_dir
from lotse_kit.tokens import AuthSettings


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path
    auth: AuthSettings
    data_keys: tuple[str, ...] = ()
    """Fernet keys for the client's data, newest first; empty: one made once in ``var/routing-data-key``."""
    directory_url: str = "http://127.0.0.1:8001"
    directory_token: str | None = None
    """Scale mode: the token routing shows the directory; embedded: one it issues itself (role service)."""
    directory_cache_seconds: float = 300.0
    """How long directory answers are kept at most; directory change events drop them earlier."""
    directory_poll_seconds: float = 2.0
    """Without a broker: how often each serving process reads the directory's change feed."""
    notify_url: str = "http://127.0.0.1:8003"
    """Without a broker: where notify's change feed (its delivery reports) is read."""
    amqp_url: str | None = None
    """RabbitMQ (scale mode): events go to ``lotse.events`` there; unset: to in-process subscribers."""
    acknowledge_within_days: int = 3
    """NRW working days a recipient has to acknowledge before a reminder is due."""
    retention_days: int = 365
    """Days after a referral closed until its client data is erased (docs/architecture.md, Promises)."""
    sweep_seconds: float = 60.0
    """How often each serving process sweeps due reminders and expired client data."""
    max_body_bytes: int = 100_000
    host: str = "127.0.0.1"
    port: int = 8002
    workers: int = 2
    threads: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        var = var_dir(env)
        p = "LOTSE_ROUTING_"
        url = env.get(f"{p}DATABASE_URL") or f"sqlite:///{var / 'routing.db'}"
        keys = tuple(k.strip() for k in env.get(f"{p}DATA_KEYS", "").split(",") if k.strip())
        return cls(
            database_url=url,
            var_dir=var,
            auth=AuthSettings.from_env(env),
            data_keys=keys,
            directory_url=env.get(f"{p}DIRECTORY_URL", "http://127.0.0.1:8001").rstrip("/"),
            directory_token=env.get(f"{p}DIRECTORY_TOKEN") or None,
            directory_cache_seconds=float(env.get(f"{p}DIRECTORY_CACHE_SECONDS", "300")),
            directory_poll_seconds=float(env.get(f"{p}DIRECTORY_POLL_SECONDS", "2")),
            notify_url=env.get(f"{p}NOTIFY_URL", "http://127.0.0.1:8003").rstrip("/"),
            amqp_url=env.get(f"{p}AMQP_URL") or env.get("LOTSE_AMQP_URL") or None,
            acknowledge_within_days=int(env.get(f"{p}ACKNOWLEDGE_WITHIN_DAYS", "3")),
            retention_days=int(env.get(f"{p}RETENTION_DAYS", "365")),
            sweep_seconds=float(env.get(f"{p}SWEEP_SECONDS", "60")),
            max_body_bytes=int(env.get(f"{p}MAX_BODY_BYTES", "100000")),
            host=env.get(f"{p}HOST", "127.0.0.1"),
            port=int(env.get(f"{p}PORT", "8002")),
            workers=int(env.get(f"{p}WORKERS", "2")),
            threads=int(env.get(f"{p}THREADS", "4")),
        )

    def keys(self) -> tuple[str, ...]:
        """The data keys, newest first (the first encrypts, every one decrypts)."""
        if self.data_keys:
            return self.data_keys
        made = kept_secret(self.var_dir / "routing-data-key", lambda: Fernet.generate_key().decode())
        return (made,)
