"""The embedded index's columns in memory follow every committed change, also one made by another process."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lotse_directory.adapters.search import sqlite_fts
from lotse_directory.adapters.search.sqlite_fts import SqliteSearch, clear, write_documents
from lotse_directory.adapters.storage.sql_store import SqlDirectoryStore
from lotse_directory.bootstrap import build
from lotse_directory.domain.search.documents import Point, SearchDocument
from lotse_directory.domain.search.query import Near, SearchQuery
from lotse_directory.settings import Settings
from lotse_directory.use_cases.search import MissLog
from lotse_kit.sql import make_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine

ORG = "00000000-0000-4000-8000-00000000000a"


def _doc(n: int, name: str, language: str = "de") -> SearchDocument:
    return SearchDocument(
        service_id=f"00000000-0000-4000-8000-{n:012d}",
        organization_id=ORG,
        texts={"name": name, "description": "Beratung im Quartier"},
        languages=[language],
        points=[Point(51.0 + n / 1000, 7.0, True, f"loc-{n}")],
    )


@pytest.fixture()
def engines(tmp_path: Path) -> tuple[Engine, Engine]:
    """The writer's engine (with migrations run) and a second one, as another process would have."""
    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": "s" * 48}))
    container.migrate()
    return container.engine, make_engine(str(container.engine.url))


def _write(engine: Engine, docs: dict[str, SearchDocument | None]) -> None:
    with engine.begin() as conn:
        write_documents(conn, docs)


def _ids(search: SqliteSearch, words: str, **more: object) -> list[str]:
    return [h.service_id for h in search.search(SearchQuery(text=words, per_page=100, **more)).hits]  # type: ignore[arg-type]


def test_another_process_sees_additions_replacements_and_removals(engines: tuple[Engine, Engine]) -> None:
    writer, reader_engine = engines
    reader = SqliteSearch(reader_engine)
    docs = [_doc(n, f"Sprachcafe {n}") for n in range(1, 6)]
    _write(writer, {d.service_id: d for d in docs})
    assert len(_ids(reader, "Sprachcafe")) == 5
    first = reader._columns
    assert first is not None and len(first.segments) == 1

    # the last document replaced: a new document number, never its old one; the old text is gone
    last = docs[-1]
    _write(writer, {last.service_id: _doc(5, "Schreibwerkstatt", "ar")})
    with writer.connect() as conn:
        numbers = conn.execute(text("SELECT rowid FROM search_doc ORDER BY rowid")).scalars().all()
    assert numbers == [1, 2, 3, 4, 6]
    assert _ids(reader, "Sprachcafe") == sorted(d.service_id for d in docs[:4])
    assert _ids(reader, "Schreibwerkstatt") == [last.service_id]
    second = reader._columns
    assert second is not None and second.segments[0] is first.segments[0], "the loaded segment is kept"

    # removed: not found, not counted in facets, not near anything
    _write(writer, {docs[0].service_id: None})
    result = reader.search(SearchQuery(text="Beratung", near=Near(51.0, 7.0, 50)))
    assert docs[0].service_id not in [h.service_id for h in result.hits]
    assert result.total == 4
    assert result.facets["language"] == {"de": 3, "ar": 1}


def test_many_changes_load_everything_again_and_a_clear_starts_over(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader_engine = engines
    reader = SqliteSearch(reader_engine)
    _write(writer, {d.service_id: d for d in (_doc(n, "Hausaufgabenhilfe") for n in range(1, 4))})
    assert len(_ids(reader, "Hausaufgabenhilfe")) == 3
    monkeypatch.setattr(sqlite_fts, "_DELTA_MIN", 2)  # fewer than in real life: two more are too many
    _write(writer, {d.service_id: d for d in (_doc(n, "Hausaufgabenhilfe") for n in range(4, 8))})
    assert len(_ids(reader, "Hausaufgabenhilfe")) == 7
    assert reader._columns is not None and len(reader._columns.segments) == 1

    with writer.begin() as conn:
        clear(conn)
        write_documents(conn, {d.service_id: d for d in (_doc(n, "Nähcafé") for n in range(20, 22))})
    assert _ids(reader, "Hausaufgabenhilfe") == []
    assert len(_ids(reader, "Nähcafé")) == 2
    assert reader._columns is not None and reader._columns.version[0] == 2


def test_a_started_miss_log_writes_in_batches_and_keeps_what_it_could_not_write(tmp_path: Path) -> None:
    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": "s" * 48}))
    container.migrate()
    store = container.store
    assert isinstance(store, SqlDirectoryStore)
    log = MissLog(store, b"k" * 32, interval=3600)  # the thread never comes round by itself here
    hour = datetime(2026, 11, 21, 10, tzinfo=UTC)

    def written() -> int:
        with store.transaction() as session:
            return sum(int(m["count"]) for m in session.search_misses(None))

    log.add((hour, "hebamme", {}, None))  # not started: at once
    assert written() == 1
    log.start()
    log.add((hour, "hebamme", {}, "05315000"))
    log.add((hour, "kita", {}, None))
    assert written() == 1
    log.flush()
    assert written() == 3

    log.add((hour, "kita", {}, None))
    broken = store.transaction
    store.transaction = lambda **_: (_ for _ in ()).throw(OSError("disk gone"))  # type: ignore[method-assign,assignment]
    with pytest.raises(OSError):
        log.flush()
    store.transaction = broken  # type: ignore[method-assign]
    log.stop()  # writes what is left
    assert written() == 4


def test_searches_kept_before_words_were_withheld_keep_only_frequent_words(tmp_path: Path) -> None:
    from sqlalchemy import text

    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": "s" * 48}))
    container.migrate()
    with container.engine.begin() as conn:
        for terms in ["amina beispiel", "kita", "kita", "kita", ""]:
            conn.execute(
                text("INSERT INTO lotse_search_miss (hour, terms, filters) VALUES (:h, :t, '{}')"),
                {"h": datetime(2026, 11, 21, 10, tzinfo=UTC), "t": terms},
            )
    container.migrate()  # as `db upgrade` does
    with container.store.transaction() as session:
        found = {(m["terms"], m["count"]) for m in session.search_misses(None)}
    assert found == {("kita", 3), ("", 1), (None, 1)}
