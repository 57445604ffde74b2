"""Reading a change feed: a cache misses no late commit and drops everything where it cannot tell what changed;
a consumer sees every event once, pages through gaps, keeps its place, and stops at an event it failed on."""

from pathlib import Path

import pytest
from lotse_contracts import EventEnvelope
from lotse_kit.feed import FeedReader


class Feed:
    """A change feed whose transactions commit out of order (as they may on PostgreSQL)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, EventEnvelope]] = []
        self.last = 0

    def write(self, seq: int) -> EventEnvelope:
        event = EventEnvelope(type="directory.jurisdiction.changed", source="test", data={"seq": seq})
        self.rows = sorted([*self.rows, (seq, "directory.jurisdiction.changed.sgb_viii.05", event)], key=lambda r: r[0])
        self.last = max(self.last, seq)
        return event

    def changes(self, after: int, limit: int) -> tuple[list[tuple[int, str, EventEnvelope]], int]:
        return [r for r in self.rows if r[0] > after][:limit], self.last


class Heard:
    def __init__(self) -> None:
        self.events: list[int] = []
        self.forgotten = 0

    def on_event(self, event: EventEnvelope, _key: str) -> None:
        self.events.append(event.data["seq"])

    def forget(self) -> None:
        self.forgotten += 1


def test_the_change_feed_misses_no_late_commit_and_repeats_nothing() -> None:
    feed, heard = Feed(), Heard()
    changes = FeedReader(feed.changes, heard.on_event, catch_up=False, on_reset=heard.forget, overlap=5, page=10)
    feed.write(1)
    changes.poll()  # starts now: what the cache holds may be older than event 1, so it is dropped
    assert (heard.events, heard.forgotten) == ([], 1)
    feed.write(3)  # event 2's transaction is still open
    assert changes.poll() == 1 and heard.events == [3]
    feed.write(2)
    assert changes.poll() == 1 and heard.events == [3, 2]
    assert changes.poll() == 0
    for seq in range(4, 30):  # more than a page behind: the cache cannot know what changed
        feed.write(seq)
    assert changes.poll() == 0 and heard.forgotten == 2
    feed.write(30)
    assert changes.poll() == 1 and heard.events == [3, 2, 30]
    feed.rows, feed.last = [], 0  # a directory whose feed went back (a new database)
    assert changes.poll() == 0 and heard.forgotten == 3
    feed.write(1)
    assert changes.poll() == 1 and heard.events == [3, 2, 30, 1]


def test_a_consumer_sees_every_event_once_keeps_its_place_and_stops_where_it_failed() -> None:
    feed, heard, saved = Feed(), Heard(), []
    for seq in range(1, 26):  # more than two pages before it first reads
        feed.write(seq)
    reader = FeedReader(feed.changes, heard.on_event, catch_up=True, save=saved.append, overlap=5, page=10)
    assert reader.poll() == 25 and heard.events == list(range(1, 26)) and saved[-1] == 25
    feed.write(27)
    feed.write(26)  # committed late
    assert reader.poll() == 2 and heard.events[-2:] == [26, 27]
    assert reader.poll() == 0

    failing = {29}

    def picky(event: EventEnvelope, key: str) -> None:
        if event.data["seq"] in failing:
            raise RuntimeError("the database is away")
        heard.on_event(event, key)

    again = FeedReader(feed.changes, picky, catch_up=True, cursor=saved[-1], save=saved.append, overlap=5, page=10)
    for seq in (28, 29, 30):
        feed.write(seq)
    with pytest.raises(RuntimeError):
        again.poll()
    assert heard.events[-1] == 28 and saved[-1] == 28  # a restart would begin before 29
    failing.clear()
    assert again.poll() == 2 and heard.events[-2:] == [29, 30]
    # re-read from its saved place: the overlap is offered again (the handler knows events by id)
    assert FeedReader(feed.changes, lambda e, k: None, catch_up=True, cursor=saved[-1], overlap=5, page=10).poll() > 0
    feed.rows, feed.last = [], 0  # the other service's database is new: read it from the start
    feed.write(1)
    assert again.poll() == 1 and heard.events[-1] == 1


def test_a_kept_cursor_survives_a_restart(tmp_path: Path) -> None:
    from lotse_kit.feed import KeptCursor, feed_cursor_table
    from lotse_kit.sql import make_engine
    from sqlalchemy import MetaData

    metadata = MetaData()
    table = feed_cursor_table(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.db'}")
    metadata.create_all(engine)
    kept = KeptCursor(engine, table, "routing")
    assert kept.load() == 0
    kept.save(41)
    kept.save(42)
    assert KeptCursor(engine, table, "routing").load() == 42 and KeptCursor(engine, table, "notify").load() == 0
    engine.dispose()
