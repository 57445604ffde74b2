"""Keep the search index in step with the directory, which stays the source of truth.

Embedded mode writes the changed documents inside the change's own transaction
(:func:`refresh_index`). Scale mode cannot write Elasticsearch transactionally, so a change only
records, in its transaction, that its offers must be reindexed (:func:`queue_changed`: a version
per offer goes up); after the commit a background job (:class:`Indexer`) builds the documents from
the database and writes them at that version. Jobs may run twice, late or concurrently: a document
is written at its version and the index keeps the highest, and an offer stays due until the index
holds its newest version, so a lost job is made good by the next sweep.
"""

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import DirectoryStore, Row, StoreSession
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.use_cases.search_documents import affected_services, build_documents

log = logging.getLogger(__name__)

IndexWriter = Callable[[Mapping[str, SearchDocument | None]], None]
"""Writes documents inside the transaction; None removes an offer from the index."""


def refresh_index(
    session: StoreSession,
    touched: list[tuple[str, Row]],
    gazetteer: Gazetteer,
    write: IndexWriter,
    ready: Mapping[str, SearchDocument | None],
    batch: int = 1000,
) -> None:
    """Embedded mode: rebuild the documents of every offer the touched entries (old and new values) affect,
    a batch at a time (an import may touch every offer); those ``ready`` (see
    :meth:`~lotse_directory.adapters.ports.StoreSession.use_documents`) are not read back."""
    affected = sorted(affected_services(session, touched))
    for start in range(0, len(affected), batch):
        part = affected[start : start + batch]
        built = build_documents(session, gazetteer, [sid for sid in part if sid not in ready])
        write({sid: ready[sid] if sid in ready else built[sid] for sid in part})


def queue_changed(session: StoreSession, touched: list[tuple[str, Row]]) -> None:
    """Scale mode: mark the offers the touched entries affect as due for indexing, in the change's transaction."""
    session.queue_for_indexing(affected_services(session, touched))


class SearchIndex(Protocol):
    """The index a background job writes (Elasticsearch behind an alias)."""

    def write(
        self,
        documents: Mapping[str, tuple[int, SearchDocument | None]],
        index: str | None = None,
        refresh: bool = False,
    ) -> None:
        """Write these documents at these versions (None: delete); an older version than the stored one is skipped."""
        ...

    def create(self) -> str:
        """A new, empty concrete index; its name."""
        ...

    def swap(self, index: str) -> list[str]:
        """Point the alias at ``index``; the indices it pointed at before."""
        ...

    def drop(self, indices: Iterable[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class Rebuilt:
    index: str
    offers: int
    caught_up: int
    dropped: list[str]


class Indexer:
    """Writes what is due into the index; rebuilds the index from the database."""

    def __init__(self, store: DirectoryStore, gazetteer: Gazetteer, index: SearchIndex, batch: int = 500) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.index = index
        self.batch = batch

    def _documents(self, versions: Mapping[str, int]) -> dict[str, tuple[int, SearchDocument | None]]:
        with self.store.transaction() as session:
            documents = build_documents(session, self.gazetteer, versions)
        return {sid: (version, documents.get(sid)) for sid, version in versions.items()}

    def _write_batches(
        self,
        versions: Mapping[str, int],
        index: str | None = None,
        mark: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Write these offers' documents at these versions (into ``index``, or behind the alias), a batch at a
        time; ``mark``: note each batch as indexed once written; ``progress`` is told ``(written, total)``."""
        ids = sorted(versions)
        for start in range(0, len(ids), self.batch):
            chunk = {sid: versions[sid] for sid in ids[start : start + self.batch]}
            self.index.write(self._documents(chunk), index=index)
            if mark:
                with self.store.transaction() as session:
                    session.mark_indexed(chunk)
            if progress is not None:
                progress(start + len(chunk), len(ids))

    def catch_up(self, service_ids: Collection[str] | None = None) -> int:
        """Index the offers (these, or all) whose index entry is behind; how many were written."""
        written = 0
        while True:
            with self.store.transaction() as session:
                due = session.indexing_due(service_ids, self.batch)
            if not due:
                return written
            # Versions were read before the documents: a document is at least as new as its version.
            self._write_batches(due, mark=True)
            written += len(due)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> Rebuilt:
        """Fill a new index from the database, point the alias at it, drop the old one; ``progress`` is told
        ``(offers written, offers)`` while the new index fills.

        Searches keep using the old index until the swap. Offers that changed while the new index
        was filled (their version went up) are written again after the swap."""
        with self.store.transaction() as session:
            snapshot = session.indexing_versions()
        index = self.index.create()
        self._write_batches(snapshot, index=index, progress=progress)
        dropped = self.index.swap(index)
        with self.store.transaction() as session:
            session.mark_indexed(snapshot)
            now = session.indexing_versions()
        changed = {sid: v for sid, v in now.items() if v > snapshot.get(sid, 0)}
        self._write_batches(changed, mark=True)
        self.index.drop(dropped)
        log.info("search index %s rebuilt: %d offers, %d caught up", index, len(snapshot), len(changed))
        return Rebuilt(index, len(snapshot), len(changed), dropped)
