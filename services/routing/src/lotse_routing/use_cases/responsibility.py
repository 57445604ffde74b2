"""Who is responsible? The decision of domain.decision on the directory's places and jurisdictions."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lotse_contracts import LegalDomain
from lotse_kit.errors import Unavailable, invalid

from lotse_routing.adapters.ports import Directory, DirectoryUnavailable
from lotse_routing.domain.decision import Ambiguous, Decides, Decision, Match, NoJurisdiction, Responsible, decide
from lotse_routing.domain.offices import Authority, FoundPlace, NearestOffice, nearest_office


class ResidenceOf(StrEnum):
    """Whose habitual residence the location is. SGB VIII follows the parents' (§ 86), the other domains the
    client's own; the request says which it gives, so that nobody routes a child by the child's address."""

    CLIENT = "client"
    PARENTS = "parents"
    CUSTODIAL_PARENT = "custodial_parent"


@dataclass(frozen=True, slots=True)
class Question:
    legal_domain: LegalDomain
    location: str
    residence_of: ResidenceOf
    topic: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    match: Match
    authority: Authority | None
    office: NearestOffice | None


@dataclass(frozen=True, slots=True)
class Answer:
    question: Question
    places: tuple[FoundPlace, ...]
    decision: Decision
    candidates: tuple[Candidate, ...]
    """Responsible: one; ambiguous: every authority that might be; no jurisdiction: none."""

    @property
    def outcome(self) -> str:
        return {Responsible: "responsible", Ambiguous: "ambiguous", NoJurisdiction: "no_jurisdiction"}[
            type(self.decision)
        ]

    def explanation(self) -> str:
        d = self.decision
        if isinstance(d, Responsible):
            return d.match.explanation()
        if isinstance(d, Ambiguous):
            return f"Nicht eindeutig: {self._why_ambiguous(d)} In Frage kommen: {self._names()}.{self._likely(d)}"
        return (
            f"Für {self.question.legal_domain.title_de} ist am Ort "
            f"{', '.join(p.label for p in self.places)} keine Zuständigkeit im Verzeichnis eingetragen."
        )

    def _names(self) -> str:
        return ", ".join(self._name(c.match.jurisdiction.authority_id) for c in self.candidates)

    def _name(self, authority_id: str) -> str:
        found = next((c.authority for c in self.candidates if c.match.jurisdiction.authority_id == authority_id), None)
        return found.name if found else authority_id

    def _why_ambiguous(self, d: Ambiguous) -> str:
        if d.decides is Decides.POSTAL_CODE:
            return "Eine Zuständigkeit gilt nur für einzelne PLZ; die PLZ entscheidet."
        if d.decides is Decides.DATA:
            return "Mehrere Stellen sind für denselben Ort eingetragen; das Verzeichnis muss geklärt werden."
        labels = ", ".join(p.label for p in self.places)
        if len(self.places) > 1:
            return (
                f"Die Angabe umfasst Orte mit unterschiedlicher Zuständigkeit ({labels}); "
                "die Gemeinde entscheidet (die Wohnadresse mit Ort nennt sie)."
            )
        return (
            f"Zu {labels} ist nur der Kreis bekannt, nicht die Gemeinde, und im Kreis sind Gemeinden mit eigener "
            "Stelle zuständig; die Gemeinde entscheidet (die Wohnadresse mit Ort nennt sie)."
        )

    def _likely(self, d: Ambiguous) -> str:
        if d.likely is None:
            return ""
        return (
            f" Wahrscheinlich, aber nicht sicher: {self._name(d.likely.authority_id)} "
            f"({d.likely.weight} von {d.likely.of} Einträgen des Ortsverzeichnisses zu dieser Angabe)."
        )

    def record(self) -> dict[str, Any]:
        """What a referral keeps of the answer that chose its recipient."""
        chosen = self.candidates[0] if self.candidates else None
        j = chosen.match.jurisdiction if chosen else None
        office = chosen.office.office if chosen and chosen.office else None
        return {
            "outcome": self.outcome,
            "jurisdiction_id": j.id if j else None,
            "region_key": j.region_key if j else None,
            "source": j.source if j else None,
            "verified_on": j.verified_on.isoformat() if j and j.verified_on else None,
            "declared_by": j.declared_by if j else None,
            "confirmed_by": j.confirmed_by if j else None,
            "place": chosen.match.place.region_key if chosen else None,
            "office_location_id": office.location_id if office else None,
            "explanation": self.explanation(),
        }


class Responsibility:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def ask(self, question: Question) -> Answer:
        _check_residence(question)
        try:
            places = tuple(self.directory.places(question.location))
            if not places:
                raise invalid("location", "no place in Germany found for it (PLZ, 'PLZ Ort', Gemeinde or AGS)")
            keys = [p.place.region_key for p in places]
            jurisdictions = self.directory.jurisdictions(question.legal_domain, keys)
            decision = decide(question.legal_domain, [p.place for p in places], jurisdictions)
            matches: Sequence[Match] = ()
            if isinstance(decision, Responsible):
                matches = (decision.match,)
            elif isinstance(decision, Ambiguous):
                matches = _one_per_authority(decision.candidates)
            client = (places[0].latitude, places[0].longitude) if len(places) == 1 else None
            candidates = tuple(self._candidate(m, client) for m in matches)
        except DirectoryUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        return Answer(question, places, decision, candidates)

    def _candidate(self, match: Match, client: tuple[float, float] | None) -> Candidate:
        authority = self.directory.authority(match.jurisdiction.authority_id)
        office = nearest_office(authority, client, match.jurisdiction.location_id) if authority else None
        return Candidate(match, authority, office)


def _one_per_authority(matches: Sequence[Match]) -> list[Match]:
    seen: dict[str, Match] = {}
    for m in matches:
        seen.setdefault(m.jurisdiction.authority_id, m)
    return list(seen.values())


_PARENTS_DECIDE = (
    "for SGB_VIII the parents' habitual residence decides (§ 86 SGB VIII): give parents or custodial_parent"
)


def residence_for(domain: LegalDomain, given: ResidenceOf | None) -> ResidenceOf:
    """Whose residence the location is: as given; else the client's own, as the law has it for every domain
    but SGB VIII, where the case manager must say whose."""
    if given is not None:
        return given
    if domain is LegalDomain.SGB_VIII:
        raise invalid("residence_of", _PARENTS_DECIDE)
    return ResidenceOf.CLIENT


def _check_residence(question: Question) -> None:
    if question.legal_domain is LegalDomain.SGB_VIII:
        if question.residence_of is ResidenceOf.CLIENT:
            raise invalid("residence_of", _PARENTS_DECIDE)
    elif question.residence_of is not ResidenceOf.CLIENT:
        raise invalid(
            "residence_of", f"for {question.legal_domain.value} the client's own residence decides: give client"
        )
