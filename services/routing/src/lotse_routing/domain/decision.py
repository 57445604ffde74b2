"""Who is locally responsible: the jurisdiction rule.

A jurisdiction says that an authority handles a legal domain in a region, named by a region key
(AGS/ARS prefix: 2 digits Land, 3 Regierungsbezirk, 5 Kreis, 8 or 12 Gemeinde), optionally only for
some PLZ in it. For a client's place, the jurisdictions of the domain whose key is a prefix of the
place's key apply; a PLZ list narrows a jurisdiction to those PLZ; the longest key wins (a city with its
own Jugendamt or Ausländerbehörde beats its Kreis), and at equal length a narrowed one beats one that is
not. A place may be known only by its Kreis (a large recipient's PLZ, a Kreis asked by name): then a
jurisdiction of a Gemeinde inside it might apply, and only the Gemeinde would tell. A place that may lie
in several Gemeinden or Kreise (a PLZ can span some) is decided only if every one of them leads to the
same authority. Otherwise, and when two authorities tie, the answer is "ambiguous", with the candidates
and what would decide. Never a guess.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from lotse_contracts import LegalDomain

LIKELY_SHARE = 0.75
"""An ambiguous answer names the authority of at least this share of the place's weight as the likely one."""


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
    declared_by: str = ""
    """Who declared it (a maintainer who keeps the region, or an admin)."""
    confirmed_by: str = ""
    """Who confirmed it, where it took over from another body and a second person had to."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where the client (for SGB VIII: the parents) habitually lives, as far as it is known."""

    region_key: str
    """The Gemeinde's AGS (8 digits) or ARS (12 digits); only the Kreis's key (5 digits) where no more is
    known."""
    postal_code: str | None = None
    name: str = ""
    weight: int = 1
    """How much of what was asked this place stands for (the gazetteer's rows of it); 0: none of the people
    (a large recipient's PLZ beside the areas where people live)."""

    @property
    def gemeinde_known(self) -> bool:
        return len(self.region_key) >= 8


class Decides(StrEnum):
    """What the case manager would have to give for an ambiguous answer to become one authority."""

    GEMEINDE = "gemeinde"  # the place may lie in several Gemeinden, or only its Kreis is known: which one
    POSTAL_CODE = "postal_code"  # a jurisdiction covers only some PLZ of the Gemeinde: which PLZ
    DATA = "data"  # two authorities claim the same place: the directory's jurisdictions need fixing


@dataclass(frozen=True, slots=True)
class Match:
    """A jurisdiction that applies (or, in an ambiguous answer, might apply) to a place, and why."""

    place: Place
    jurisdiction: Jurisdiction
    postal_code_listed: bool
    """The jurisdiction names the place's PLZ (it is narrowed to it)."""

    @property
    def rank(self) -> tuple[int, bool]:
        return len(self.jurisdiction.region_key), self.postal_code_listed

    def explanation(self) -> str:
        """Why this body, in plain German: the area the directory lists it for and how the place lies in it,
        the source, when it was checked and who entered and confirmed it."""
        j, place = self.jurisdiction, self.place
        where = f"{place.name} ({place.region_key})" if place.name else place.region_key
        inside = j.region_key.startswith(place.region_key) and j.region_key != place.region_key
        if j.region_key == place.region_key:
            rule = f"Laut Verzeichnis zuständig für {where}"
        elif inside:
            rule = f"Laut Verzeichnis zuständig für das Gebiet {j.region_key} in {where}, "
            rule += "dessen Gemeinde nicht bekannt ist"
        else:
            rule = f"Laut Verzeichnis zuständig für das Gebiet {j.region_key}, zu dem {where} gehört"
        if not place.gemeinde_known and not inside:
            rule += " (Ort nur auf Kreisebene bekannt)"
        if self.postal_code_listed:
            rule += f", eingeschränkt auf PLZ {place.postal_code or ', '.join(sorted(j.postal_codes))}"
        verified = f", geprüft am {j.verified_on.strftime('%d.%m.%Y')}" if j.verified_on else ", nicht geprüft"
        declared = f", eingetragen von {j.declared_by}" if j.declared_by else ""
        confirmed = f", bestätigt von {j.confirmed_by}" if j.confirmed_by else ""
        return f"{rule} (Quelle: {j.source or 'unbekannt'}{verified}{declared}{confirmed})"


@dataclass(frozen=True, slots=True)
class Responsible:
    match: Match


@dataclass(frozen=True, slots=True)
class Likely:
    """The authority most of an ambiguous place leads to: a hint for the case manager, not a decision."""

    authority_id: str
    weight: int
    of: int


@dataclass(frozen=True, slots=True)
class Ambiguous:
    candidates: tuple[Match, ...]
    decides: Decides
    likely: Likely | None = None


@dataclass(frozen=True, slots=True)
class NoJurisdiction:
    legal_domain: LegalDomain
    places: tuple[Place, ...]
    near_misses: tuple[Jurisdiction, ...] = field(default=())
    """Jurisdictions of the region that cover other PLZ only."""


Decision = Responsible | Ambiguous | NoJurisdiction


def _applies(j: Jurisdiction, place: Place) -> bool | Decides:
    """Whether ``j`` covers ``place``: True, False, or what would tell (the PLZ, the Gemeinde)."""
    if place.region_key.startswith(j.region_key):
        if not j.postal_codes:
            return True
        if place.postal_code is None:
            return Decides.POSTAL_CODE
        return place.postal_code in j.postal_codes
    if j.region_key.startswith(place.region_key):  # j is for a part of the place (a Gemeinde of its Kreis)
        if j.postal_codes and place.postal_code is not None and place.postal_code not in j.postal_codes:
            return False
        return Decides.GEMEINDE
    return False


@dataclass(frozen=True, slots=True)
class _PlaceMatches:
    top: list[Match]
    """The best-ranked sure matches (one unless authorities tie)."""
    open: list[tuple[Match, Decides]]
    """Jurisdictions that would outrank them if the PLZ or the Gemeinde were known."""


def _for_place(domain: LegalDomain, place: Place, jurisdictions: Iterable[Jurisdiction]) -> _PlaceMatches:
    sure: list[Match] = []
    unsure: list[tuple[Match, Decides]] = []
    for j in jurisdictions:
        if j.legal_domain != domain:
            continue
        applies = _applies(j, place)
        if applies is True:
            sure.append(Match(place, j, bool(j.postal_codes)))
        elif isinstance(applies, Decides):
            unsure.append((Match(place, j, bool(j.postal_codes)), applies))
    best = max((m.rank for m in sure), default=(0, False))
    top = [m for m in sure if m.rank == best]
    return _PlaceMatches(top, [(m, why) for m, why in unsure if m.rank > best])


def decide(domain: LegalDomain, places: Sequence[Place], jurisdictions: Sequence[Jurisdiction]) -> Decision:
    """The authority responsible for ``domain`` at the client's place (one, or the places a PLZ spans)."""
    if not places:
        raise ValueError("decide needs at least one place")
    per_place = [_for_place(domain, place, jurisdictions) for place in places]
    candidates = [m for pm in per_place for m in pm.top] + [m for pm in per_place for m, _ in pm.open]
    if not candidates:
        near = tuple(
            j
            for j in jurisdictions
            if j.legal_domain == domain and any(p.region_key.startswith(j.region_key) for p in places)
        )
        return NoJurisdiction(domain, tuple(places), near)
    decided = [pm.top[0].jurisdiction.authority_id if _decided(pm) else None for pm in per_place]
    if None not in decided and len(set(decided)) == 1:
        return Responsible(per_place[0].top[0])
    reasons = {why for pm in per_place for _, why in pm.open}
    if any(len({m.jurisdiction.authority_id for m in pm.top}) > 1 for pm in per_place):
        reasons.add(Decides.DATA)
    if len(places) > 1 and (not all(pm.top for pm in per_place) or len(set(decided) - {None}) > 1):
        reasons.add(Decides.GEMEINDE)
    decides = next(d for d in (Decides.GEMEINDE, Decides.POSTAL_CODE, Decides.DATA) if d in reasons)
    return Ambiguous(tuple(candidates), decides, _likely(places, decided))


def _decided(pm: _PlaceMatches) -> bool:
    """Whether the place leads to one authority, whatever the PLZ or the Gemeinde would add."""
    authorities = {m.jurisdiction.authority_id for m in pm.top} | {m.jurisdiction.authority_id for m, _ in pm.open}
    return bool(pm.top) and len(authorities) == 1


def _likely(places: Sequence[Place], decided: Sequence[str | None]) -> Likely | None:
    """The authority that places holding at least LIKELY_SHARE of the weight lead to, if there is one."""
    total = sum(p.weight for p in places)
    weights: dict[str, int] = {}
    for place, authority in zip(places, decided, strict=True):
        if authority is not None:
            weights[authority] = weights.get(authority, 0) + place.weight
    if len(places) < 2 or not weights or total == 0:
        return None
    authority, weight = max(weights.items(), key=lambda kv: kv[1])
    return Likely(authority, weight, total) if weight >= LIKELY_SHARE * total else None
