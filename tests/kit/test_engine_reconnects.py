"""PostgreSQL connections the server dropped (a restart): after an idle spell the pool replaces them
unnoticed; in steady use the next transaction fails once with OperationalError, then the pool is new."""

import time
from collections.abc import Iterator

import pytest
from lotse_kit.sql import IDLE_BEFORE_PING, make_engine
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_url)
    yield made
    made.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _drop_connections(pids: set[int]) -> None:
    """What a server restart does to the pool's connections."""
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as conn:
        for pid in pids:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def _two_pooled(engine: Engine) -> set[int]:
    with engine.connect() as first, engine.connect() as second:
        pids = {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in (first, second)}
    assert len(pids) == 2 and engine.pool.checkedin() == 2  # type: ignore[attr-defined]
    return pids


def test_connections_dropped_during_an_idle_spell_are_replaced_unnoticed(engine: Engine) -> None:
    old = _two_pooled(engine)
    _drop_connections(old)
    time.sleep(IDLE_BEFORE_PING + 0.2)
    assert _backend(engine) not in old
    assert _backend(engine) not in old  # the other dropped one went with the first failed ping


def test_in_steady_use_a_dropped_connection_fails_one_transaction_and_the_pool_renews(engine: Engine) -> None:
    old = _two_pooled(engine)
    _drop_connections(old)
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # no ping within the idle spell: this is the price
    assert _backend(engine) not in old
    assert _backend(engine) not in old
