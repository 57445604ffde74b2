"""What every service's settings share: the local data folder and secrets made once and kept in it."""

import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path


def var_dir(env: Mapping[str, str]) -> Path:
    """The folder for local data (SQLite files, embedded secrets): ``LOTSE_VAR_DIR``, default ``var``."""
    return Path(env.get("LOTSE_VAR_DIR", "var")).resolve()


def kept_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """The secret in ``path``; made by ``make`` and written once if missing, by whichever process comes first."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(draft, path)  # atomic, and only if no other process made the secret first
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def embedded_secret(var: Path) -> str:
    """The suite's token secret in embedded mode: made once, kept in ``var/auth-secret``, shared by the services."""
    return kept_secret(var / "auth-secret")
