"""Points in time keep their instant and come back in UTC, on SQLite (which stores no offset) as on
PostgreSQL (which answers in its session's zone)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lotse_kit.sql import UtcDateTime
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, event, insert, select

metadata = MetaData()
stamps = Table("test_utc_stamps", metadata, Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'utc.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    made = create_engine(url)
    if request.param == "postgresql":  # a server whose sessions are not in UTC

        @event.listens_for(made, "connect")
        def _zone(dbapi_conn: object, _record: object) -> None:
            with dbapi_conn.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.execute("SET TIME ZONE 'America/New_York'")

    metadata.drop_all(made)
    metadata.create_all(made)
    yield made
    metadata.drop_all(made)
    made.dispose()


def test_a_time_with_an_offset_keeps_its_instant_and_comes_back_in_utc(engine: Engine) -> None:
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=BERLIN_SUMMER)
    naive = datetime(2026, 7, 1, 9, 30)  # taken as UTC
    with engine.begin() as conn:
        conn.execute(insert(stamps), [{"id": 1, "at": summer}, {"id": 2, "at": naive}, {"id": 3, "at": None}])
        got = {r.id: r.at for r in conn.execute(select(stamps.c.id, stamps.c.at))}
        # compared by the database, with a parameter at yet another offset: 08:15 UTC lies between them
        between = datetime(2026, 7, 1, 4, 15, tzinfo=timezone(timedelta(hours=-4)))
        later = set(conn.execute(select(stamps.c.id).where(stamps.c.at > between)).scalars())
    assert got == {1: datetime(2026, 7, 1, 8, 0, tzinfo=UTC), 2: datetime(2026, 7, 1, 9, 30, tzinfo=UTC), 3: None}
    assert all(v is None or v.utcoffset() == timedelta(0) for v in got.values())
    assert later == {2}
