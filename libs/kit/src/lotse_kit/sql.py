"""SQL plumbing every service shares: engines for SQLite or PostgreSQL and Alembic migrations."""

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout for concurrent use."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(package: str, url: str) -> Config:
    """Alembic's configuration for the migrations in ``<package>/migrations``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files(package) / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(package: str, engine: Engine) -> None:
    """Bring the database to the newest schema of ``package``'s migrations."""
    config = alembic_config(package, engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def is_current(package: str, engine: Engine) -> bool:
    """The database is at the newest schema (a server must not start on an older one)."""
    heads = set(ScriptDirectory.from_config(alembic_config(package, engine.url.render_as_string())).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
