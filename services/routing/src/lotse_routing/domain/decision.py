"""Who is locally responsible: the jurisdiction rule of DESIGN.md, section Routing.

A jurisdiction says that an authority handles a legal domain in a region, named by a region key
(AGS/ARS prefix: 2 digits Land, 3 Regierungsbezirk, 5 Kreis, 8 or 12 Gemeinde), optionally only for
some PLZ in it. For a client's place, the jurisdictions of the domain whose key is a prefix of the
place's Gemeinde key apply; a PLZ list narrows a jurisdiction to those PLZ; the longest key wins (a
city with its own Jugendamt or Ausländerbehörde beats its Kreis), and at equal length a narrowed one
beats one that is not. A place that may lie in several Gemeinden (a PLZ can span some) is decided only
if every one of them leads to the same authority; otherwise, and when two authorities tie, the answer
is "ambiguous", with the candidates and what would decide. Never a guess.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from lotse_contracts import LegalDomain


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    id: str
    authority_id: str
    """The organisation (or one of its units) that is responsible."""
    legal_domain: LegalDomain
    region_key: str
    postal_codes: frozenset[str] = frozenset()
    """Empty: the whole region; else only these PLZ in it."""
    source: str = ""
    verified_on: date | None = None
    location_id: str | None = None
    """The authority's office the jurisdiction names, if it names one."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where the client (for SGB VIII: the parents) habitually lives, as far as it is known."""

    gemeinde_key: str
    """The Gemeinde's AGS (8 digits) or ARS (12 digits)."""
    postal_code: str | None = None
    name: str = ""


class Decides(StrEnum):
    """What the case manager would have to give for an ambiguous answer to become one authority."""

    GEMEINDE = "gemeinde"  # the place may lie in several Gemeinden: which one (an address tells)
    POSTAL_CODE = "postal_code"  # a jurisdiction covers only some PLZ of the Gemeinde: which PLZ
    DATA = "data"  # two authorities claim the same place: the directory's jurisdictions need fixing


@dataclass(frozen=True, slots=True)
class Match:
    """A jurisdiction that applies to a place, and why."""

    place: Place
    jurisdiction: Jurisdiction
    postal_code_listed: bool
    """The jurisdiction names the place's PLZ (it is narrowed to it)."""

    @property
    def rank(self) -> tuple[int, bool]:
        return len(self.jurisdiction.region_key), self.postal_code_listed

    def explanation(self) -> str:
        j = self.jurisdiction
        rule = f"Regionalschlüssel {j.region_key} ist der längste passende Präfix von {self.place.gemeinde_key}"
        if self.postal_code_listed:
            rule += f", eingeschränkt auf PLZ {self.place.postal_code}"
        verified = f", geprüft am {j.verified_on.isoformat()}" if j.verified_on else ", nicht geprüft"
        return f"{rule} (Quelle: {j.source or 'unbekannt'}{verified})"


@dataclass(frozen=True, slots=True)
class Responsible:
    match: Match


@dataclass(frozen=True, slots=True)
class Ambiguous:
    candidates: tuple[Match, ...]
    decides: Decides


@dataclass(frozen=True, slots=True)
class NoJurisdiction:
    legal_domain: LegalDomain
    places: tuple[Place, ...]
    near_misses: tuple[Jurisdiction, ...] = field(default=())
    """Jurisdictions of the region that cover other PLZ only."""


Decision = Responsible | Ambiguous | NoJurisdiction


def _applies(j: Jurisdiction, place: Place) -> bool | None:
    """Whether ``j`` covers ``place``: True, False, or None when only the PLZ would tell."""
    if not place.gemeinde_key.startswith(j.region_key):
        return False
    if not j.postal_codes:
        return True
    if place.postal_code is None:
        return None
    return place.postal_code in j.postal_codes


def _for_place(
    domain: LegalDomain, place: Place, jurisdictions: Iterable[Jurisdiction]
) -> tuple[list[Match], list[Jurisdiction]]:
    """The best-ranked matches for one place (one unless authorities tie), and the jurisdictions that
    might apply if the PLZ were known."""
    matches: list[Match] = []
    unsure: list[Jurisdiction] = []
    for j in jurisdictions:
        if j.legal_domain != domain:
            continue
        applies = _applies(j, place)
        if applies:
            matches.append(Match(place, j, bool(j.postal_codes)))
        elif applies is None:
            unsure.append(j)
    if not matches:
        return [], unsure
    best = max(m.rank for m in matches)
    top = [m for m in matches if m.rank == best]
    # an unknown PLZ matters only if a narrowed jurisdiction could outrank the best sure one
    unsure = [j for j in unsure if (len(j.region_key), True) > best]
    return top, unsure


def decide(domain: LegalDomain, places: Sequence[Place], jurisdictions: Sequence[Jurisdiction]) -> Decision:
    """The authority responsible for ``domain`` at the client's place (one, or the Gemeinden a PLZ spans)."""
    if not places:
        raise ValueError("decide needs at least one place")
    per_place: list[Match] = []
    for place in places:
        top, unsure = _for_place(domain, place, jurisdictions)
        if unsure:
            candidates = tuple(top) + tuple(Match(place, j, True) for j in unsure)
            return Ambiguous(candidates, Decides.POSTAL_CODE)
        if len({m.jurisdiction.authority_id for m in top}) > 1:
            return Ambiguous(tuple(top), Decides.DATA)
        per_place.extend(top[:1])
    if not per_place:
        near = tuple(
            j
            for j in jurisdictions
            if j.legal_domain == domain and any(p.gemeinde_key.startswith(j.region_key) for p in places)
        )
        return NoJurisdiction(domain, tuple(places), near)
    if len(per_place) < len(places) or len({m.jurisdiction.authority_id for m in per_place}) > 1:
        return Ambiguous(tuple(per_place), Decides.GEMEINDE)
    return Responsible(per_place[0])
