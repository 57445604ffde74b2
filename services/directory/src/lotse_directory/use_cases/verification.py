"""Maintainers confirm entries; the directory lists those whose confirmation is due (stale)."""

from collections.abc import Callable
from datetime import UTC, date, datetime

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden

from lotse_directory.adapters.ports import DirectoryStore, Row
from lotse_directory.domain.verification import VERIFIED_ENTITIES, confirmation, due_since, verified_on
from lotse_directory.use_cases.entries import Entries, Entry


def _now() -> datetime:
    return datetime.now(UTC)


class Verification:
    def __init__(
        self, store: DirectoryStore, entries: Entries, after_days: int, clock: Callable[[], datetime] = _now
    ) -> None:
        self.store = store
        self.entries = entries
        self.after_days = after_days
        self.clock = clock

    def confirm(self, claims: TokenClaims, entity: str, ident: str, if_match: str | None) -> Entry:
        """Record that ``claims.subject`` checked the entry now (an ordinary, audited update)."""
        return self.entries.update(claims, entity, ident, confirmation(entity, claims.subject, self.clock()), if_match)

    def due(self, claims: TokenClaims, organization_id: str | None = None) -> list[Row]:
        """Stale entries of the organisations the caller maintains, never-verified first, then oldest."""
        if claims.role not in (Role.MAINTAINER, Role.ADMIN):
            raise Forbidden(f"role {claims.role.value} does not maintain the directory")
        today = self.clock().astimezone(UTC).date()
        found: list[Row] = []
        with self.store.transaction() as session:
            scope: set[str] | None = None
            if claims.role is Role.MAINTAINER:
                scope = session.maintainable_by(claims.organization_id or "")
            if organization_id is not None:
                scope = {organization_id} & scope if scope is not None else {organization_id}
            for entity in VERIFIED_ENTITIES:
                key = "id" if entity == "organization" else "organization_id"
                where = {key: scope} if scope is not None else None
                for row in session.select(entity, where):
                    since = due_since(entity, row, today, self.after_days)
                    if since is None:
                        continue
                    last = verified_on(entity, row)
                    found.append(
                        {
                            "entity": entity,
                            "id": row["id"],
                            "name": row.get("name") or f"{row.get('legal_domain')} {row.get('region_key')}",
                            "organization_id": row["id"] if entity == "organization" else row.get("organization_id"),
                            "last_verified": last.isoformat() if last else None,
                            "stale_since": None if since == date.min else since.isoformat(),
                        }
                    )
        found.sort(key=lambda r: (r["stale_since"] is not None, r["stale_since"] or "", r["entity"], r["id"]))
        return found
