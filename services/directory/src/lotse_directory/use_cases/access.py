"""Who may see and change which directory entries: roles, organisations and maintainer grants."""

from collections.abc import Mapping
from typing import Any

from lotse_contracts import Role, TokenClaims

from lotse_directory.adapters.ports import StoreSession
from lotse_directory.domain.hsds import entities
from lotse_directory.use_cases.errors import Forbidden

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


def owners(
    session: StoreSession, entity: str, row: Mapping[str, Any], depth: int = 0, known: Known | None = None
) -> set[str]:
    """Organisations an entry belongs to, following its references up to an organisation."""
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
        if f.references == "*":
            hint = row.get("link_entity") if f.name == "link_id" else row.get("resource_type")
            linked = find_linked(session, str(value), str(hint) if hint else None, known)
            if linked:
                found |= owners(session, linked[0], linked[1], depth + 1, known)
            continue
        assert f.references is not None
        parent = _lookup(session, f.references, str(value), known or {})
        if parent is not None:
            found |= owners(session, f.references, parent, depth + 1, known)
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
