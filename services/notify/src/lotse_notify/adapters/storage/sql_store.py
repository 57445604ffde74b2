"""Notify's database in SQL (SQLite embedded, PostgreSQL in scale mode)."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from lotse_kit.sql import write_turn
from sqlalchemy import Engine, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from lotse_notify.adapters.ports import Row
from lotse_notify.adapters.storage.tables import delivery, notification, processed_event


class SqlNotifySession:
    def __init__(self, conn: Connection) -> None:
        self.connection = conn

    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(processed_event)
            .values(event_id=event_id, event_type=event_type, received_at=at)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(processed_event.c.event_id)
        )
        return self.connection.execute(statement).first() is not None

    def add_notification(self, row: Row) -> None:
        self.connection.execute(insert(notification), row)

    def add_deliveries(self, rows: Sequence[Row]) -> None:
        if rows:
            self.connection.execute(insert(delivery), list(rows))


class SqlNotifyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SqlNotifySession]:
        """One write transaction (on SQLite: writers take turns, see :func:`lotse_kit.sql.write_turn`)."""
        with write_turn(self.engine), self.engine.begin() as conn:
            yield SqlNotifySession(conn)
