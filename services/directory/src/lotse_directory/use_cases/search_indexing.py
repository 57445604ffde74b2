"""Keep the search index in step with the directory: at the end of every transaction that changed entries."""

from collections.abc import Callable, Mapping

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import Row, StoreSession
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.use_cases.search_documents import affected_services, build_documents

IndexWriter = Callable[[Mapping[str, SearchDocument | None]], None]
"""Writes (or queues) documents inside the transaction; None removes an offer from the index."""


def refresh_index(
    session: StoreSession, touched: list[tuple[str, Row]], gazetteer: Gazetteer, write: IndexWriter
) -> None:
    """Rebuild the documents of every offer the touched entries (old and new values) affect."""
    affected: set[str] = set()
    for entity, values in touched:
        affected |= affected_services(session, entity, values)
    if affected:
        write(build_documents(session, gazetteer, affected))
