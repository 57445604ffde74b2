"""Each organisation's inbox: its staff list the notifications for it and mark them read."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden

from lotse_notify.adapters.ports import NotifyStore, Row

READERS = (Role.AGENCY, Role.CASE_MANAGER, Role.COORDINATOR, Role.MAINTAINER, Role.ADMIN)


@dataclass
class Inbox:
    store: NotifyStore
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def page(self, claims: TokenClaims, unread_only: bool, page: int, per_page: int) -> tuple[list[Row], int]:
        organization = _organization(claims)
        with self.store.transaction() as session:
            return session.inbox(organization, unread_only, per_page, (page - 1) * per_page)

    def mark_read(self, claims: TokenClaims, ids: Sequence[str] | None) -> int:
        """Mark these notifications (None: all) of the caller's organisation read; others' ids change nothing."""
        organization = _organization(claims)
        with self.store.transaction() as session:
            return session.mark_read(organization, ids, claims.subject, self.now())


def _organization(claims: TokenClaims) -> str:
    if claims.role not in READERS or not claims.organization_id:
        raise Forbidden("the inbox belongs to an organisation: sign in as one of its staff")
    return claims.organization_id
