"""Who may declare who is responsible where (Zuständigkeit), and when a declaration waits for a second person.

A jurisdiction decides where routing sends clients' data, so it is kept by those who keep the region (a
maintainer whose token names a region key that is a prefix of the jurisdiction's, e.g. the Kreis's KIM
coordination) and by admins, not by the organisation it names. That organisation must be marked as an
authority of the legal domain (``authority_for``), which only the same people may set. A new declaration
that would take over where another body is responsible today (the same region or a part of it, the same
legal domain, not only on other PLZ) is stored ``proposed``: routing ignores it until a second person who
keeps the region confirms it. A change that would take over is refused; it is proposed as a new one.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Conflict, Forbidden

from lotse_directory.adapters.ports import Row, StoreSession
from lotse_directory.domain.rules import Violation

DECIDING = ("organization_id", "legal_domain", "region_key", "postal_codes")
"""What decides whom a jurisdiction makes responsible where; a change to these is a new declaration."""
DECLARATION = ("status", "declared_by", "declared_by_name", "confirmed_by", "confirmed_by_name", "confirmed_at")
"""Set by the directory: writers cannot give them."""

CONFIRMED, PROPOSED = "confirmed", "proposed"


def require_region(claims: TokenClaims, region_key: Any) -> None:
    if not claims.keeps_region(str(region_key)):
        raise Forbidden(
            f"who is responsible in region {region_key} is declared by the maintainers who keep that region "
            "(a region key in their token) and by admins"
        )


def require_authority_keeper(claims: TokenClaims) -> None:
    """Marking an organisation as an authority is for admins and for maintainers who keep a region."""
    if claims.role is not Role.ADMIN and not (claims.role is Role.MAINTAINER and claims.regions):
        raise Forbidden("only admins and maintainers who keep a region mark organisations as authorities")


def authority_violations(session: StoreSession, row: Mapping[str, Any], known: Mapping[str, Row]) -> list[Violation]:
    """The jurisdiction's organisation must be an authority of its legal domain (``known``: organisations of
    an import, before the store)."""
    ident = str(row.get("organization_id"))
    org = known.get(ident) or session.get("organization", ident)
    if org is None:
        return []  # the reference check names a missing organisation
    if row.get("legal_domain") not in (org.get("authority_for") or []):
        return [
            Violation(
                "organization_id",
                f"{org.get('name')} is no authority for {row.get('legal_domain')} "
                "(its authority_for does not name it): only authorities are declared responsible",
            )
        ]
    return []


def _overlaps(new: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    """Whether ``new`` would decide places ``held`` decides today: inside its region, not on other PLZ only."""
    if not str(new.get("region_key")).startswith(str(held.get("region_key"))):
        return False
    mine, theirs = set(new.get("postal_codes") or ()), set(held.get("postal_codes") or ())
    return not (mine and theirs and not mine & theirs)


def _within(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether ``new`` decides no place ``old`` did not: the same body and domain, a region and PLZ no wider."""
    if any(new.get(k) != old.get(k) for k in ("organization_id", "legal_domain")):
        return False
    if (old.get("status") or CONFIRMED) != CONFIRMED:
        return False
    if not str(new.get("region_key")).startswith(str(old.get("region_key"))):
        return False
    theirs, mine = set(old.get("postal_codes") or ()), set(new.get("postal_codes") or ())
    return not theirs or (bool(mine) and mine <= theirs)


def taken_over(session: StoreSession, row: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Row]:
    """The confirmed jurisdictions of other organisations whose answer ``row`` would take over (``old``: the
    row's version before a change: a change within what it decided takes over nothing new, and ``old``
    counts as another's when the change gives it to another organisation)."""
    if old is not None and _within(row, old):
        return []
    same_domain = session.select("jurisdiction", {"legal_domain": row.get("legal_domain")})
    held = [j for j in same_domain if j["id"] != row["id"]]
    if old is not None:
        held.append(dict(old))
    return [
        j
        for j in held
        if (j.get("status") or CONFIRMED) == CONFIRMED
        and j.get("organization_id") != row.get("organization_id")
        and _overlaps(row, j)
    ]


def declared(session: StoreSession, claims: TokenClaims, row: Row, old: Mapping[str, Any] | None) -> Row:
    """``row`` with its declaration: kept where what decides did not change, else declared by the caller now,
    proposed where it would take over (a change that would take over is refused)."""
    if old is not None and all(old.get(k) == row.get(k) for k in DECIDING):
        return {**row, **{k: old.get(k) for k in DECLARATION}}
    others = taken_over(session, row, old)
    if others and old is not None:
        raise Conflict(
            "this change would make another body responsible where "
            f"{', '.join(sorted(str(j['organization_id']) for j in others))} is today: propose it as a new "
            "jurisdiction (a second person confirms it), then delete this one",
            {"taken_over": sorted(str(j["id"]) for j in others)},
        )
    return {
        **row,
        "status": PROPOSED if others else CONFIRMED,
        "declared_by": claims.subject,
        "declared_by_name": claims.name or claims.subject,
        "confirmed_by": None,
        "confirmed_by_name": None,
        "confirmed_at": None,
    }


def confirmation(claims: TokenClaims, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What confirming a proposed jurisdiction sets; refused unless a second person who keeps the region."""
    if row.get("status") != PROPOSED:
        raise Conflict("only a proposed jurisdiction is confirmed", {"status": row.get("status")})
    require_region(claims, row.get("region_key"))
    if row.get("declared_by") == claims.subject:
        raise Forbidden("a second person confirms a proposal: not the one who declared it")
    return {
        "status": CONFIRMED,
        "confirmed_by": claims.subject,
        "confirmed_by_name": claims.name or claims.subject,
        "confirmed_at": now.isoformat(timespec="seconds"),
    }
