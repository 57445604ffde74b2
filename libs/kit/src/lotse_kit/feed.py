"""Reading another service's change feed (``GET /api/v1/events?after=&limit=``, :meth:`SqlOutbox.since`,
served by :mod:`lotse_kit.feed_api`) where no broker carries its events: embedded mode, with the services in
separate processes.

Each poll reads from a little before the last number seen (``overlap``) and skips the event ids it has seen,
so an event whose transaction committed after a higher-numbered one is not missed (PostgreSQL).

Two kinds of reader:

- a **cache** (``catch_up=False``) starts from now and, where it cannot tell what changed (its first poll, a
  gap longer than a page, a feed that went back), calls ``on_reset`` (drop everything) instead of reading;
- a **consumer** (``catch_up=True``) must see every event: it starts from a number kept by its owner
  (``cursor``, written back through ``save``), pages through any gap, starts again from the beginning of a
  feed that went back (a new database; its handler recognises events by id), and stops at an event its
  handler failed on, which the next poll offers again.
"""

import json
from collections.abc import Callable

import urllib3
from lotse_contracts import EventEnvelope
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from lotse_kit.errors import PeerAway
from lotse_kit.logs import handling
from lotse_kit.outbox import Handler
from lotse_kit.sql import write_turn

FeedEntry = tuple[int, str, EventEnvelope]
"""Sequence number, routing key, event."""

ReadFeed = Callable[[int, int], tuple[list[FeedEntry], int]]
"""``(after, limit)`` → up to ``limit`` entries after ``after``, oldest first, and the newest number."""


class FeedUnavailable(PeerAway):
    """The service whose feed is read did not answer."""


class HttpFeed:
    """Another service's change feed over HTTP (``<base_url>/api/v1/events``), a :data:`ReadFeed`."""

    def __init__(self, base_url: str, token: Callable[[], str], timeout: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/events"
        self._token = token
        self._http = urllib3.PoolManager(maxsize=2, timeout=urllib3.Timeout(connect=2.0, read=timeout), retries=False)

    def __call__(self, after: int, limit: int) -> tuple[list[FeedEntry], int]:
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        try:
            response = self._http.request(
                "GET", self.url, fields={"after": str(after), "limit": str(limit)}, headers=headers
            )
        except urllib3.exceptions.HTTPError as exc:
            raise FeedUnavailable(f"{self.url} did not answer: {exc}") from exc
        if response.status != 200:
            raise FeedUnavailable(f"{self.url} answered {response.status}")
        body = json.loads(response.data)
        found = [(int(e["seq"]), str(e["routing_key"]), EventEnvelope.from_dict(e["event"])) for e in body["events"]]
        return found, int(body["last_seq"])


def feed_cursor_table(metadata: MetaData, name: str = "feed_cursor") -> Table:
    """Where a consumer is in other services' change feeds, in the consumer's own metadata (and migrations)."""
    return Table(
        name,
        metadata,
        Column("source", String(50), primary_key=True),  # whose change feed
        Column("seq", Integer, nullable=False),  # read up to here
    )


class KeptCursor:
    """A consumer's place in one feed (``source``), kept in its database: :meth:`load` to start a
    :class:`FeedReader` from, :meth:`save` as its ``save``."""

    def __init__(self, engine: Engine, table: Table, source: str) -> None:
        self.engine = engine
        self.table = table
        self.source = source

    def load(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(select(self.table.c.seq).where(self.table.c.source == self.source)).scalar()
        return int(found or 0)

    def save(self, seq: int) -> None:
        dialect: object = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(self.table).values(source=self.source, seq=seq)  # type: ignore[attr-defined]
        with write_turn(self.engine), self.engine.begin() as conn:
            conn.execute(upsert.on_conflict_do_update(index_elements=["source"], set_={"seq": seq}))


class FeedReader:
    def __init__(
        self,
        read: ReadFeed,
        handler: Handler,
        *,
        catch_up: bool,
        on_reset: Callable[[], None] = lambda: None,
        cursor: int | None = None,
        save: Callable[[int], None] = lambda seq: None,
        overlap: int = 100,
        page: int = 500,
    ) -> None:
        if page <= overlap:
            raise ValueError("a page must be longer than the overlap")
        self._read = read
        self._handler = handler
        self._catch_up = catch_up
        self._on_reset = on_reset
        self._cursor = cursor if cursor is not None else (0 if catch_up else None)
        self._save = save
        self._overlap = overlap
        self._page = page
        self._seen: dict[str, int] = {}
        """Ids of the events handled near the cursor, with their numbers."""

    @property
    def cursor(self) -> int | None:
        return self._cursor

    def poll(self) -> int:
        """Read the feed once (a consumer: up to its end); return how many new events were handled."""
        if self._cursor is None:
            self._reset()
            return 0
        handled = 0
        try:
            while True:
                found, last = self._read(max(0, self._cursor - self._overlap), self._page)
                if last < self._cursor:  # the feed went back: another database
                    if not self._catch_up:
                        self._reset()
                        return handled
                    self._cursor, self._seen = 0, {}
                    continue
                behind = len(found) == self._page and found[-1][0] < last
                if behind and not self._catch_up:
                    self._reset()
                    return handled
                for seq, key, event in found:
                    if event.id not in self._seen:
                        with handling(event.requestid, event_id=event.id):
                            self._handler(event, key)  # if it raises, the cursor stays before this event
                        handled += 1
                    self._seen[event.id] = seq
                    self._cursor = max(self._cursor, seq)
                self._forget_old()
                if not behind:
                    return handled
        finally:
            if self._catch_up and self._cursor is not None:
                self._save(self._cursor)

    def _forget_old(self) -> None:
        assert self._cursor is not None
        floor = self._cursor - self._overlap
        self._seen = {ident: seq for ident, seq in self._seen.items() if seq > floor}

    def _reset(self) -> None:
        """A cache starts from now: note the events up to now as seen, then drop what it holds."""
        _, last = self._read(0, 1)
        found, _ = self._read(max(0, last - self._overlap), self._page)
        self._cursor = last
        self._seen = {event.id: seq for seq, _, event in found}
        self._forget_old()
        self._on_reset()
