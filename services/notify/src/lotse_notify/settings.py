"""Settings of the notify service, read from the environment (prefix ``LOTSE_NOTIFY_``)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lotse_kit.settings import var_dir


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        var = var_dir(env)
        return cls(database_url=env.get("LOTSE_NOTIFY_DATABASE_URL") or f"sqlite:///{var / 'notify.db'}", var_dir=var)
