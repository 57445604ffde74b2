"""Who may see and change which directory entries: roles, organisations and maintainer grants."""

from collections.abc import Mapping
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden

from lotse_directory.adapters.ports import StoreSession
from lotse_directory.domain.hsds import entities

# References that say where an entry belongs; others (deputy, taxonomy, parent organisation)
# point sideways and do not make the target's maintainers owners.
_OWNING_REFERENCES = (
    "organization_id",
    "service_id",
    "location_id",
    "service_at_location_id",
    "contact_id",
    "phone_id",
    "link_id",
    "resource_id",
)
_LINKABLE = ("service", "organization", "location", "service_at_location", "contact", "phone")


Known = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""Entries not yet stored (an import's rows), by entity and id: looked up before the store."""


def _lookup(session: StoreSession, entity: str, ident: str, known: Known) -> Mapping[str, Any] | None:
    found = known.get(entity, {}).get(ident)
    return found if found is not None else session.get(entity, ident)


def find_linked(
    session: StoreSession, ident: str, entity_hint: str | None, known: Known | None = None
) -> tuple[str, Mapping[str, Any]] | None:
    """The entry a polymorphic link (attribute.link_id, metadata.resource_id) points at."""
    candidates = [entity_hint] if entity_hint in entities() else list(_LINKABLE)
    for name in candidates:
        assert name is not None
        row = _lookup(session, name, ident, known or {})
        if row is not None:
            return name, row
    return None


def _parent(
    session: StoreSession, entity: str, ident: str, known: Known | None
) -> tuple[str, Mapping[str, Any]] | None:
    found = _lookup(session, entity, ident, known or {})
    return (entity, found) if found is not None else None


def owners(
    session: StoreSession,
    entity: str,
    row: Mapping[str, Any],
    depth: int = 0,
    known: Known | None = None,
    memo: dict[tuple[str, str], set[str]] | None = None,
) -> set[str]:
    """Organisations an entry belongs to, following its references up to an organisation.

    ``memo``: owners of the parents met so far, by entity and id, to reuse across many entries
    (an import); the sets in it must not be changed."""
    if entity == "organization":
        return {str(row["id"])}
    if depth > 6:
        return set()
    found: set[str] = set()
    spec = entities()[entity]
    for f in spec.reference_fields:
        value = row.get(f.name)
        if f.name not in _OWNING_REFERENCES or not value:
            continue
        if f.name == "organization_id":
            found.add(str(value))
            continue
        target = f.references or ""
        if target == "*":
            hint = row.get("link_entity") if f.name == "link_id" else row.get("resource_type")
            target = str(hint) if hint in entities() else "*"  # as find_linked reads it
        key = (target, str(value))
        if memo is not None and key in memo:
            found |= memo[key]
            continue
        parent = (
            find_linked(session, key[1], None if target == "*" else target, known)
            if f.references == "*"
            else _parent(session, target, key[1], known)
        )
        of_parent = owners(session, parent[0], parent[1], depth + 1, known, memo) if parent else set()
        if memo is not None:
            memo[key] = of_parent
        found |= of_parent
    return found


def can_maintain(session: StoreSession, claims: TokenClaims, owner_ids: set[str]) -> bool:
    if claims.role is Role.ADMIN:
        return True
    if claims.role is not Role.MAINTAINER or not claims.organization_id or not owner_ids:
        return False
    return owner_ids <= session.maintainable_by(claims.organization_id)


def require_maintainer(session: StoreSession, claims: TokenClaims, entity: str, owner_ids: set[str]) -> None:
    if can_maintain(session, claims, owner_ids):
        return
    if claims.role not in (Role.MAINTAINER, Role.ADMIN):
        raise Forbidden(f"role {claims.role.value} cannot change the directory")
    if not owner_ids:
        raise Forbidden(f"a {entity} that belongs to no organisation can only be changed by an admin")
    raise Forbidden(f"you may not maintain entries of organisation(s) {', '.join(sorted(owner_ids))}")


def may_see(session: StoreSession, claims: TokenClaims, entity: str, row: Mapping[str, Any]) -> bool:
    """Internal entries (shelters and similar) are seen only by those who maintain them."""
    if row.get("visibility") != "internal":
        return True
    return can_maintain(session, claims, owners(session, entity, row))
