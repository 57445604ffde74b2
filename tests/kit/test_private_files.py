"""The embedded databases and secrets are the owner's alone: files 0600 in a folder 0700."""

import stat
from pathlib import Path

from lotse_directory.bootstrap import build
from lotse_directory.settings import Settings
from lotse_kit.sql import make_engine
from sqlalchemy import text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    var = tmp_path / "var"
    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(var)}))  # no secret given: one is made and kept
    container.migrate()
    with container.engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    assert _mode(var) == 0o700
    made = sorted(p.name for p in var.iterdir())
    assert {"auth-secret", "directory-data-key", "directory.db"} <= set(made)
    for path in var.iterdir():
        assert _mode(path) & 0o077 == 0, (path.name, oct(_mode(path)))
    old = tmp_path / "old.db"  # made by an earlier version with the usual 0644
    old.touch(mode=0o644)
    old.chmod(0o644)
    make_engine(f"sqlite:///{old}")
    assert _mode(old) == 0o600
