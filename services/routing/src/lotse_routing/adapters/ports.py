"""The ports routing's use cases call; adapters implement them, bootstrap picks which."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lotse_contracts import EventEnvelope, LegalDomain
from lotse_kit.errors import PeerAway

from lotse_routing.domain.decision import Jurisdiction
from lotse_routing.domain.offices import Authority, FoundPlace, Offer


@dataclass(frozen=True, slots=True)
class FigureScope:
    """Which referrals the coordinators' figures count: a legal domain, a region (AGS prefix), and those
    sent (``requested_at``) from ``since`` up to before ``until``; None: any."""

    legal_domain: str | None = None
    region: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class DirectoryUnavailable(PeerAway):
    """The directory did not answer (in time, or at all)."""


class Directory(Protocol):
    """What routing asks the directory service (over HTTP, through a cache)."""

    def places(self, location: str) -> Sequence[FoundPlace]:
        """The places a PLZ, 'PLZ Ort', address, Gemeinde name or AGS may mean; empty if none."""
        ...

    def jurisdictions(self, legal_domain: LegalDomain, places: Sequence[str]) -> Sequence[Jurisdiction]:
        """The domain's jurisdictions whose region key is a prefix of one of these places' keys, and for a
        place known only by its Kreis also those of regions inside it."""
        ...

    def holds_jurisdiction(self, legal_domain: LegalDomain, organization_id: str) -> bool:
        """Whether the organisation is responsible for the legal domain anywhere (sachlich zuständig)."""
        ...

    def authority(self, organization_id: str) -> Authority | None: ...

    def offer(self, service_id: str) -> Offer | None:
        """A public offer of the directory, or None."""
        ...


class Sealer(Protocol):
    """Encrypts what could name a client before it is stored."""

    current: str
    """The id of the key that seals now."""

    def seal(self, value: object) -> str: ...

    def open(self, token: str) -> object: ...

    def reseal(self, token: str) -> str: ...

    def index(self, text: str) -> str:
        """A keyed blind index of ``text`` (the newest key's), to find sealed rows by it."""
        ...

    def indexes(self, text: str) -> tuple[str, ...]:
        """``text``'s blind index under every configured key, newest first."""
        ...


Row = dict[str, Any]


class ReferralSession(Protocol):
    """One transaction over referrals, consents, their history, reminders, the audit log and the outbox."""

    def add_consent(self, row: Row) -> None: ...

    def consent(self, ident: str, for_update: bool = False) -> Row | None: ...

    def update_consent(self, ident: str, values: Row) -> None: ...

    def add_referral(self, row: Row) -> None: ...

    def referral(self, ident: str, for_update: bool = False) -> Row | None: ...

    def has_referral(self, ident: str) -> bool: ...

    def update_referral(self, ident: str, revision: int, values: Row) -> bool: ...

    def referrals_of_consent(self, consent_id: str) -> list[Row]: ...

    def plain_topics(self, limit: int) -> list[tuple[str, str, str | None]]: ...

    def seal_topic(self, referral_id: str, sealed: str, key_id: str) -> None: ...

    def page(
        self,
        where: Mapping[str, Any],
        page: int,
        per_page: int,
        hidden_statuses: Sequence[str] = (),
        sort: str = "changed",
        overdue_at: datetime | None = None,
    ) -> tuple[list[Row], int]:
        """Referrals matching ``where`` (equal values), without those in ``hidden_statuses``; with ``overdue_at``
        only those whose acknowledgement was due by then. ``sort``: ``changed`` (latest change first),
        ``newest`` / ``oldest`` (by when sent), ``due`` (the acknowledgement due soonest first)."""
        ...

    def status_counts(
        self, where: Mapping[str, Any], hidden_statuses: Sequence[str] = (), overdue_at: datetime | None = None
    ) -> dict[str, int]: ...
    def add_history(self, row: Row) -> None: ...

    def history(self, referral_id: str) -> list[Row]: ...

    def add_audit(self, rows: Sequence[Row]) -> None: ...

    def audit_trail(self, referral_id: str) -> list[Row]:
        """The referral's audit rows, oldest first."""
        ...

    def add_event(self, event: EventEnvelope, routing_key: str) -> None:
        """Into the outbox, with the transaction."""
        ...

    def add_report(self, row: Row) -> bool:
        """Keep what notify reported of one delivery; False if it was kept before."""
        ...

    def reports(self, referral_id: str) -> list[Row]: ...

    def set_reminder(self, referral_id: str, kind: str, due_at: datetime) -> None: ...

    def close_reminders(self, referral_id: str, at: datetime) -> None: ...

    def due_reminders(self, now: datetime, limit: int) -> list[Row]: ...

    def fire_reminder(self, referral_id: str, kind: str, at: datetime) -> None: ...

    def expired(self, closed_before: datetime, limit: int) -> list[str]:
        """Referrals closed before that time whose client data is not yet erased (locked for this transaction)."""
        ...

    def erase(self, referral_ids: Sequence[str], at: datetime) -> None:
        """Empty the sealed data (and client index) of these referrals and their history, and of each consent no
        other referral still needs."""
        ...

    def counts(self, dimensions: Sequence[str], scope: FigureScope) -> list[Row]: ...

    def durations(self, scope: FigureScope) -> list[Row]:
        """Per sent referral in scope: its legal domain, when it was requested, acknowledged and accepted,
        and whether it was forwarded."""
        ...

    def sealed_with_other_key(self, key_id: str, limit: int) -> list[tuple[str, str, str]]: ...

    def count_sealed_with_other_key(self, key_id: str) -> int: ...

    def reseal(self, table_name: str, key: str, sealed: str, key_id: str, client_index: str | None = None) -> None:
        """Store a value sealed anew; for a referral also its client index made anew (under the same key)."""
        ...

    def unindexed(self, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` referrals with sealed client data but no client index (stored before it): id, sealed."""
        ...

    def set_client_index(self, referral_id: str, client_index: str) -> None: ...

    def about_person(self, client_indexes: Sequence[str]) -> list[Row]:
        """The referrals whose client index is one of these, oldest first (drafts too; an erased one has none)."""
        ...

    def audit_of(self, referral_ids: Sequence[str], consent_ids: Sequence[str]) -> list[Row]:
        """The audit rows of these referrals or consents, oldest first."""
        ...


class ReferralStore(Protocol):
    def transaction(self) -> AbstractContextManager[ReferralSession]:
        """A write transaction: what it writes (and its events) commit together or not at all."""
        ...

    def reading(self) -> AbstractContextManager[ReferralSession]:
        """A read-only transaction, which takes no write lock."""
        ...
