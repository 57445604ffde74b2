"""SQL plumbing every service shares: engines for SQLite or PostgreSQL and Alembic migrations (Alembic is
imported only where a migration or a schema check runs: a delivery worker does neither and is smaller without
it)."""

import contextlib
import fcntl
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    engine_from_config,
    event,
    exc,
    pool,
    text,
)
from sqlalchemy.engine import Connection, Dialect

if TYPE_CHECKING:
    from alembic.config import Config


def named_metadata() -> MetaData:
    """A service's table metadata whose indexes and constraints get stable names (migrations refer to them)."""
    return MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, written and read back in UTC on either database. SQLite keeps a time without its
    offset (10:00+01:00 would come back as 10:00, an hour off, and without a zone); PostgreSQL answers in its
    session's zone. A time without a zone is taken as UTC."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


IDLE_BEFORE_PING = 1.0
"""Seconds a pooled PostgreSQL connection may have been idle before its checkout asks the server first."""


def _private_file(path: Path) -> None:
    """The database file (and the var folder it is in, made on first use) readable by its owner only: it
    holds organisations' internal entries and sealed client data; SQLite's -wal and -shm files take the
    database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # one made before, by an older version


POOL_SIZE = 16
"""PostgreSQL connections a process keeps open at most (and as many again that it closes after use)."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout for concurrent use.

    PostgreSQL connections are pinged on checkout only after an idle spell (:data:`IDLE_BEFORE_PING`): one
    that fails is replaced, with every pooled connection older than it (a restarted server dropped them
    all). A connection in steady use goes without: a ping is a round trip and a statement for the server
    on every transaction. So a server restarted less than a second after a connection's last use costs
    that connection's next transaction an ``OperationalError`` (answered 503, or tried again by a
    consumer), after which the pool has only new connections."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        if engine.url.database and engine.url.database != ":memory:":
            _private_file(Path(engine.url.database))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # A service process uses a connection per request thread and per background thread (relay, consumers,
    # attempts): up to 13 at once in notify's consumer. SQLAlchemy's default pool keeps 5 and closes the rest
    # after each use, and a new PostgreSQL connection costs a process and a cold catalogue cache on the server:
    # under load that churn took more CPU than the statements (bench/README.md). Kept connections cost memory
    # on the server only; a process opens one only when that many run at once.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_after_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_from = record.info.pop("idle_from", None)
        if idle_from is None or time.monotonic() - idle_from < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError(f"ping after an idle spell failed: {error}") from error

    return engine


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """Create the PostgreSQL database ``name`` on the server of ``admin_url`` and yield its URL; drop it
    afterwards, connections and all (the tests and benchmarks run on these)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def alembic_config(package: str, url: str) -> "Config":
    """Alembic's configuration for the migrations in ``<package>/migrations``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files(package) / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(package: str, engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema of ``package``'s migrations (or to ``revision``)."""
    from alembic import command

    _migrate(package, engine, command.upgrade, revision)


def downgrade(package: str, engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` of ``package``'s migrations."""
    from alembic import command

    _migrate(package, engine, command.downgrade, revision)


def _migrate(package: str, engine: Engine, step: Callable[["Config", str], None], revision: str) -> None:
    """One transaction. On SQLite, a migration that changes a table copies it (Alembic's batch mode), which
    a table another one refers to allows only with foreign keys off; they are checked before the commit."""
    config = alembic_config(package, engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or SQLite ignores it
            conn.commit()
        try:
            with conn.begin():
                config.attributes["connection"] = conn
                step(config, revision)
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


@functools.cache
def _heads(package: str) -> frozenset[str]:
    """The newest revisions of ``package``'s migrations (read once: readiness asks every few seconds)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config(package, "sqlite://")).get_heads())


def is_current(package: str, engine: Engine) -> bool:
    """The database is at the newest schema (a server must not start on an older one)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == _heads(package)


class _Turns:
    """Threads and processes using one SQLite file take turns here: threads by a lock, processes by
    ``flock`` on a file beside the database. Both wake a waiter the moment the one before it is done;
    SQLite's own busy handler instead sleeps in steps of up to 100 ms, which made a few concurrent writes
    take 10 to 30 times as long as one."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._fd: int | None = None

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_turns: "weakref.WeakKeyDictionary[Engine, dict[str, _Turns]]" = weakref.WeakKeyDictionary()
_turns_lock = threading.Lock()


def sqlite_turn(engine: Engine, what: str) -> contextlib.AbstractContextManager[None]:
    """Take turns with every other thread and process doing ``what`` on this SQLite file (``writers``:
    hold it around a write transaction); elsewhere (PostgreSQL locks rows) it does nothing."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return contextlib.nullcontext()
    with _turns_lock:
        by_name = _turns.setdefault(engine, {})
        turns = by_name.get(what)
        if turns is None:
            turns = by_name[what] = _Turns(f"{database}-{what}")
    return turns.turn()


def write_turn(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """Hold this around a write transaction on an SQLite file: writers take turns without sleeping."""
    return sqlite_turn(engine, "writers")


def run_migrations(metadata: MetaData, include_name: Callable[..., bool] | None = None) -> None:
    """A service's Alembic ``env.py`` body: migrate on the connection :func:`upgrade` hands over, on one
    made from the configured URL (the ``alembic`` command line), or write the SQL (offline mode)."""
    from alembic import context

    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()

    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        migrate(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        migrate(conn)
