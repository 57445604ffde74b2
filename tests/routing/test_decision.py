"""The responsible-authority rule on real Gemeinde keys of the Ennepe-Ruhr-Kreis (05954): longest key
wins, a PLZ list narrows, a PLZ spanning Gemeinden or two claimants make the answer ambiguous."""

from datetime import date

import pytest
from lotse_contracts import LegalDomain
from lotse_routing.domain.decision import (
    Ambiguous,
    Decides,
    Jurisdiction,
    NoJurisdiction,
    Place,
    Responsible,
    decide,
)

KREIS, WITTEN, WETTER, HATTINGEN = "05954", "05954036", "05954032", "05954016"
VIII, II = LegalDomain.SGB_VIII, LegalDomain.SGB_II


def _j(ident: str, authority: str, key: str, domain: LegalDomain = VIII, plz: tuple[str, ...] = ()) -> Jurisdiction:
    return Jurisdiction(ident, authority, domain, key, frozenset(plz), "Kreisverwaltung EN", date(2026, 10, 1))


JUGENDAEMTER = [
    _j("j-kreis", "Kreisjugendamt Ennepe-Ruhr", KREIS),
    _j("j-witten", "Jugendamt Witten", WITTEN),
    _j("j-hattingen", "Jugendamt Hattingen", HATTINGEN),
    _j("j-abh", "Ausländerbehörde Ennepe-Ruhr", KREIS, LegalDomain.AUFENTHG),
]


def _authority(decision: object) -> str:
    assert isinstance(decision, Responsible), decision
    return decision.match.jurisdiction.authority_id


def test_a_city_with_its_own_office_beats_its_kreis() -> None:
    assert _authority(decide(VIII, [Place(WITTEN, "58452", "Witten")], JUGENDAEMTER)) == "Jugendamt Witten"
    assert _authority(decide(VIII, [Place(WETTER, "58300", "Wetter")], JUGENDAEMTER)) == "Kreisjugendamt Ennepe-Ruhr"
    assert _authority(decide(LegalDomain.AUFENTHG, [Place(WITTEN)], JUGENDAEMTER)) == "Ausländerbehörde Ennepe-Ruhr"


def test_the_explanation_names_the_rule_the_source_and_when_it_was_checked() -> None:
    decision = decide(VIII, [Place(WITTEN, "58452")], JUGENDAEMTER)
    assert isinstance(decision, Responsible)
    text = decision.match.explanation()
    assert "05954036" in text and "Kreisverwaltung EN" in text and "2026-10-01" in text


def test_a_postal_code_list_narrows_a_jurisdiction() -> None:
    jobcenters = [
        _j("jc-witten", "Jobcenter EN, Geschäftsstelle Witten", WITTEN, II),
        _j("jc-annen", "Jobcenter EN, Geschäftsstelle Annen", WITTEN, II, ("58453",)),
    ]
    assert _authority(decide(II, [Place(WITTEN, "58453")], jobcenters)) == "Jobcenter EN, Geschäftsstelle Annen"
    assert _authority(decide(II, [Place(WITTEN, "58452")], jobcenters)) == "Jobcenter EN, Geschäftsstelle Witten"
    unknown = decide(II, [Place(WITTEN)], jobcenters)  # by Gemeinde key alone: the PLZ would decide
    assert isinstance(unknown, Ambiguous) and unknown.decides is Decides.POSTAL_CODE
    assert {m.jurisdiction.id for m in unknown.candidates} == {"jc-witten", "jc-annen"}


def test_a_postal_code_spanning_gemeinden_is_decided_only_if_they_agree() -> None:
    spanning = [Place(WITTEN, "58300"), Place(WETTER, "58300")]  # as if one PLZ reached into both
    split = decide(VIII, spanning, JUGENDAEMTER)
    assert isinstance(split, Ambiguous) and split.decides is Decides.GEMEINDE
    assert {m.jurisdiction.authority_id for m in split.candidates} == {"Jugendamt Witten", "Kreisjugendamt Ennepe-Ruhr"}
    agreed = decide(LegalDomain.AUFENTHG, spanning, JUGENDAEMTER)
    assert _authority(agreed) == "Ausländerbehörde Ennepe-Ruhr"


def test_two_authorities_claiming_the_same_place_is_never_guessed() -> None:
    clash = [*JUGENDAEMTER, _j("j-witten-2", "Jugendamt Witten (alt)", WITTEN)]
    decision = decide(VIII, [Place(WITTEN, "58452")], clash)
    assert isinstance(decision, Ambiguous) and decision.decides is Decides.DATA
    assert len(decision.candidates) == 2
    same = [*JUGENDAEMTER, _j("j-witten-copy", "Jugendamt Witten", WITTEN)]  # one authority twice: no clash
    assert _authority(decide(VIII, [Place(WITTEN, "58452")], same)) == "Jugendamt Witten"


def test_no_jurisdiction_says_so_and_names_what_almost_applied() -> None:
    only_annen = [_j("jc-annen", "Jobcenter EN, Geschäftsstelle Annen", WITTEN, II, ("58453",))]
    decision = decide(II, [Place(WITTEN, "58452")], only_annen)
    assert isinstance(decision, NoJurisdiction)
    assert [j.id for j in decision.near_misses] == ["jc-annen"]
    assert isinstance(decide(LegalDomain.STAG, [Place(WITTEN)], JUGENDAEMTER), NoJurisdiction)


def test_a_decision_needs_a_place() -> None:
    with pytest.raises(ValueError, match="place"):
        decide(VIII, [], JUGENDAEMTER)
