"""The directory's storage port: what use cases need from a store (the gazetteer is static data)."""

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lotse_contracts import EventEnvelope

from lotse_directory.domain.search.documents import SearchDocument

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AtLeast:
    """A filter value for :meth:`StoreSession.select`: the field is this value or greater."""

    value: Any


@dataclass(frozen=True, slots=True)
class StartsWith:
    """A filter value for :meth:`StoreSession.select`: the field's text begins with this (which may hold no
    ``%`` or ``_``: it becomes a LIKE pattern)."""

    value: str


class BackendUnavailable(Exception):
    """A server the directory depends on (the search engine) did not answer."""


class RowReader(Protocol):
    """Reads rows by field values: a store session, or rows held in memory (an import's own)."""

    def select(
        self,
        entity: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str = "id",
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Row]:
        """Rows whose fields equal the given values (a list or set means "one of", :class:`AtLeast` a lower bound);
        with ``fields``, only those fields (and ``id``) of each row."""
        ...


class StoreSession(RowReader, Protocol):
    """One transaction: everything done through it commits together or not at all."""

    def get(self, entity: str, ident: str) -> Row | None: ...

    def count(self, entity: str, where: Mapping[str, Any] | None = None) -> int: ...

    def unknown_references(
        self, entity: str, field: str, target: str, where: Mapping[str, Any] | None = None
    ) -> set[str]:
        """Values of ``field`` in rows of ``entity`` (those matching ``where``) that name no ``target`` entry."""
        ...

    def insert(self, entity: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def update(self, entity: str, ident: str, changes: Mapping[str, Any], expected_revision: int) -> bool:
        """Apply ``changes`` only if the stored revision still is ``expected_revision``."""
        ...

    def delete(self, entity: str, ident: str, expected_revision: int | None = None) -> bool: ...

    def touch(self, entity: str, values: Mapping[str, Any]) -> None:
        """Note that an entry changed (as it was, or is now), for what must follow it (the search index)."""
        ...

    def use_documents(self, documents: Mapping[str, SearchDocument | None]) -> None:
        """Offer the search index, where it is written in this transaction, these offers' documents, built
        by the caller from exactly the rows it wrote (an import's new offers), instead of reading them back."""
        ...

    def add_event(self, event: EventEnvelope, routing_key: str) -> None:
        """Write an event to the outbox, in this transaction."""
        ...

    def queue_for_indexing(self, service_ids: Collection[str]) -> None:
        """Note that these offers' search documents changed (scale mode: the index must catch up)."""
        ...

    def indexing_due(self, service_ids: Collection[str] | None = None, limit: int = 500) -> dict[str, int]:
        """Offers (among these, or any) whose index entry is behind: their current indexing versions."""
        ...

    def indexing_versions(self) -> dict[str, int]:
        """The indexing version of every offer (offers never indexed get one)."""
        ...

    def mark_indexed(self, versions: Mapping[str, int]) -> None:
        """The index now holds these offers at these versions (a newer version stays due)."""
        ...

    def add_search_miss(
        self,
        hour: datetime,
        terms: str,
        terms_hash: str,
        filters: Mapping[str, Any],
        region_key: str | None,
        reveal_at: int,
    ) -> None:
        """Count a search that found nothing (anonymous); its words kept only once searched ``reveal_at`` times."""
        ...

    def authorities(self) -> list[Row]:
        """``id``, ``name``, ``authority_for`` of the organisations that are authorities, by name."""
        ...

    def search_misses(self, since: datetime | None) -> list[Row]:
        """Searches that found nothing, counted by words and region, most frequent first; those whose words
        are not kept, as one count with ``terms`` None."""
        ...

    def hash_search_misses(self, terms_hash: Callable[[str], str], reveal_at: int) -> None: ...

    def maintainable_by(self, maintainer_organization_id: str) -> set[str]:
        """Organisations whose entries maintainers of this organisation may edit."""
        ...

    def grant(self, organization_id: str, maintainer_organization_id: str) -> None: ...

    def revoke(self, organization_id: str, maintainer_organization_id: str) -> bool: ...

    def channels(self, organization_id: str) -> list[Row]:
        """An organisation's notification channels (each with its ``revision``), oldest first."""
        ...

    def all_channels(self) -> list[Row]: ...

    def get_channel(self, ident: str) -> Row | None: ...

    def add_channel(self, row: Mapping[str, Any]) -> None: ...

    def update_channel(self, ident: str, changes: Mapping[str, Any], expected_revision: int) -> bool:
        """Apply ``changes`` only if the stored revision still is ``expected_revision``."""
        ...

    def delete_channel(self, ident: str, expected_revision: int) -> bool: ...

    def add_user(self, row: Mapping[str, Any]) -> None: ...

    def users(self) -> list[Row]: ...

    def get_user(self, ident: str) -> Row | None: ...

    def update_user(self, ident: str, changes: Mapping[str, Any]) -> None: ...

    def password_hash(self, ident: str) -> str | None: ...

    def login_attempts(self, login: str) -> tuple[int, datetime | None]: ...

    def set_login_attempts(self, login: str, failures: int, locked_until: datetime | None) -> None: ...

    def set_password_hash(self, ident: str, hashed: str | None) -> None: ...

    def last_change(self) -> int:
        """The number of the newest change's event (0 before the first): it grows with every change."""
        ...

    def provider_reply(self, link_id: str) -> Row | None: ...

    def add_provider_reply(self, row: Mapping[str, Any]) -> None: ...

    def provider_replies(
        self, organization_ids: Collection[str] | None, service_id: str | None, open_only: bool
    ) -> list[Row]:
        """Replies about the offers of these organisations (None: all) or one of them, newest first
        (``open_only``: corrections nobody dealt with yet)."""
        ...

    def close_provider_reply(self, link_id: str, done_by: str, done_at: datetime) -> bool: ...


class DirectoryStore(Protocol):
    def transaction(self, bulk: bool = False) -> AbstractContextManager[StoreSession]:
        """One transaction; ``bulk``: it will write very many rows (an import), the store may prepare for that,
        and no other change commits while it runs (what it reads first is what its writes build on)."""
        ...
