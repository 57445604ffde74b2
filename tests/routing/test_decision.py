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
    assert "05954036" in text and "Kreisverwaltung EN" in text and "geprüft am 01.10.2026" in text


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


def test_a_place_known_only_by_its_kreis_is_decided_where_the_kreis_decides() -> None:
    kreis_only = [Place(KREIS, "58404")]  # a large recipient's PLZ: the gazetteer knows the Kreis, no Gemeinde
    assert _authority(decide(LegalDomain.AUFENTHG, kreis_only, JUGENDAEMTER)) == "Ausländerbehörde Ennepe-Ruhr"
    decision = decide(VIII, kreis_only, JUGENDAEMTER)  # Witten and Hattingen have their own Jugendamt
    assert isinstance(decision, Ambiguous) and decision.decides is Decides.GEMEINDE
    assert {m.jurisdiction.authority_id for m in decision.candidates} == {
        "Kreisjugendamt Ennepe-Ruhr",
        "Jugendamt Witten",
        "Jugendamt Hattingen",
    }
    explained = {m.jurisdiction.id: m.explanation() for m in decision.candidates}
    assert "(Ort nur auf Kreisebene bekannt)" in explained["j-kreis"]
    assert "dessen Gemeinde nicht bekannt ist" in explained["j-witten"]


def test_a_kreis_only_place_without_a_kreis_wide_body_names_the_gemeinde_bodies_only() -> None:
    cities_only = [j for j in JUGENDAEMTER if j.id != "j-kreis"]
    decision = decide(VIII, [Place(KREIS)], cities_only)
    assert isinstance(decision, Ambiguous) and decision.decides is Decides.GEMEINDE
    assert {m.jurisdiction.authority_id for m in decision.candidates} == {"Jugendamt Witten", "Jugendamt Hattingen"}
    # a Gemeinde's jurisdiction narrowed to other PLZ cannot be the one for this PLZ
    narrowed = [*cities_only[:1], _j("j-hattingen", "Jugendamt Hattingen", HATTINGEN, plz=("45525",))]
    decision = decide(VIII, [Place(KREIS, "58404")], narrowed)
    assert isinstance(decision, Ambiguous)
    assert {m.jurisdiction.authority_id for m in decision.candidates} == {"Jugendamt Witten"}


def test_a_postal_code_spanning_kreise_is_never_decided_and_names_the_likely_one_by_weight() -> None:
    herford, bielefeld = "05758", "05711000"
    jobcenters = [_j("jc-hf", "Jobcenter Herford", herford, II), _j("jc-bi", "Jobcenter Bielefeld", bielefeld, II)]
    weighted = [Place(herford, "32046", weight=13), Place(bielefeld, "32046", weight=1)]
    decision = decide(II, weighted, jobcenters)
    assert isinstance(decision, Ambiguous) and decision.decides is Decides.GEMEINDE
    assert {m.jurisdiction.authority_id for m in decision.candidates} == {"Jobcenter Herford", "Jobcenter Bielefeld"}
    assert decision.likely is not None and decision.likely.authority_id == "Jobcenter Herford"
    assert (decision.likely.weight, decision.likely.of) == (13, 14)
    even = decide(II, [Place(herford, "32046", weight=2), Place(bielefeld, "32046", weight=1)], jobcenters)
    assert isinstance(even, Ambiguous) and even.likely is None  # 2 of 3 is not enough to call it likely
    # a large recipient beside the areas where people live weighs nothing
    beside = decide(II, [Place(herford, "32046", weight=0), Place(bielefeld, "33602", weight=1)], jobcenters)
    assert isinstance(beside, Ambiguous) and beside.likely and beside.likely.authority_id == "Jobcenter Bielefeld"


def test_a_place_partly_outside_every_jurisdiction_is_not_given_to_the_other_part() -> None:
    hallenberg, bromskirchen = "05958020", "06635005"  # PLZ 59969 spans NRW and Hessen
    hsk = [_j("jc-hsk", "Jobcenter Hochsauerlandkreis", "05958", II)]
    decision = decide(II, [Place(hallenberg, "59969"), Place(bromskirchen, "59969")], hsk)
    assert isinstance(decision, Ambiguous) and decision.decides is Decides.GEMEINDE
    assert [m.jurisdiction.id for m in decision.candidates] == ["jc-hsk"]


def test_what_the_plz_or_gemeinde_would_add_does_not_matter_when_it_is_the_same_authority() -> None:
    same = [_j("jc-witten", "Jobcenter EN", WITTEN, II), _j("jc-annen", "Jobcenter EN", WITTEN, II, ("58453",))]
    assert _authority(decide(II, [Place(WITTEN)], same)) == "Jobcenter EN"
    assert _authority(decide(II, [Place(KREIS)], [_j("jc", "Jobcenter EN", KREIS, II), *same])) == "Jobcenter EN"
