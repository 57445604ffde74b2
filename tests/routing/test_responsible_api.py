"""Who is responsible? Asked over the API, answered from the real directory over HTTP."""

from functools import cache

from lotse_contracts import Role
from lotse_directory.adapters.geocoding.gazetteer import Place, packaged_gazetteer
from lotse_directory.use_cases.demo import demo_document

from tests.routing.conftest import Api
from tests.routing.test_referrals_api import SENDER_ORG
from tests.routing.test_referrals_api import body as referral_body

CASE_MANAGER_ORG = "c0ffee00-0000-4000-8000-000000000001"


def ask(api: Api, **query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = api.get("/responsible", api.token(Role.CASE_MANAGER, CASE_MANAGER_ORG), **query)
    return response.status_code, response.json


def test_a_city_with_its_own_jugendamt_beats_its_kreis(sqlite_api: Api) -> None:
    status, body = ask(sqlite_api, legal_domain="SGB_VIII", location="58452 Witten", residence_of="parents")
    assert status == 200, body
    assert body["outcome"] == "responsible"
    [chosen] = body["candidates"]
    assert chosen["name"] == "Jugendamt der Stadt Witten (Demo)"
    assert chosen["jurisdiction"]["region_key"] == "05954036"
    assert chosen["jurisdiction"]["verified_on"] == "2026-10-01"
    assert "Demodaten" in chosen["jurisdiction"]["source"]
    assert "05954036" in body["explanation"] and "geprüft am 01.10.2026" in body["explanation"]
    office = chosen["office"]
    assert office["address"].endswith("Witten") and office["opening_hours"]
    assert office["distance_km"] is not None and office["distance_km"] < 10


def test_a_gemeinde_without_its_own_office_goes_to_the_kreis(sqlite_api: Api) -> None:
    status, body = ask(sqlite_api, legal_domain="SGB_VIII", location="Breckerfeld", residence_of="parents")
    assert status == 200, body
    assert body["candidates"][0]["name"] == "Jugendamt Ennepe-Ruhr-Kreis (Demo)"
    assert body["candidates"][0]["jurisdiction"]["region_key"] == "05954"
    status, body = ask(sqlite_api, legal_domain="SGB_II", location="05954036", residence_of="client")
    assert body["candidates"][0]["name"] == "Jobcenter Ennepe-Ruhr-Kreis (Demo)"


def test_sgb_viii_is_decided_by_the_parents_residence_and_says_so(sqlite_api: Api) -> None:
    status, body = ask(sqlite_api, legal_domain="SGB_VIII", location="58452", residence_of="client")
    assert status == 422
    assert body["errors"][0]["name"] == "residence_of" and "§ 86" in body["errors"][0]["reason"]
    status, body = ask(sqlite_api, legal_domain="SGB_II", location="58452", residence_of="parents")
    assert status == 422 and body["errors"][0]["name"] == "residence_of"


def test_an_unknown_place_and_bad_input_are_named(sqlite_api: Api) -> None:
    status, body = ask(sqlite_api, legal_domain="SGB_II", location="99999", residence_of="client")
    assert status == 422 and body["errors"][0]["name"] == "location"
    status, body = ask(sqlite_api, legal_domain="SGB_XX", location="58452", residence_of="client")
    assert status == 400 and body["errors"][0]["name"] == "legal_domain"
    response = sqlite_api.get("/responsible", {}, legal_domain="SGB_II", location="58452", residence_of="client")
    assert response.status_code == 401
    response = sqlite_api.get(
        "/responsible",
        sqlite_api.token(Role.COORDINATOR, CASE_MANAGER_ORG),
        legal_domain="SGB_II",
        location="58452",
        residence_of="client",
    )
    assert response.status_code == 403
    maintainer = sqlite_api.token(Role.MAINTAINER, CASE_MANAGER_ORG)  # previews a jurisdiction it declares
    answer = sqlite_api.get("/responsible", maintainer, legal_domain="SGB_II", location="58452", residence_of="client")
    assert answer.status_code == 200


def _nrw_postal_codes() -> tuple[dict[str, list[Place]], dict[str, list[Place]]]:
    """NRW's PLZ whose gazetteer rows lie in several Kreise, and those whose rows name one Kreis, no Gemeinde."""
    spanning: dict[str, list[Place]] = {}
    kreis_only: dict[str, list[Place]] = {}
    for place in packaged_gazetteer().postal_places():
        assert place.postal_code is not None
        spanning.setdefault(place.postal_code, []).append(place)
    for code, places in list(spanning.items()):
        one_kreis = {p.kreis_key for p in places} == {places[0].kreis_key}
        if places[0].land_key == "05" and one_kreis and all(p.ags is None for p in places):
            kreis_only[code] = places
        if len({p.kreis_key for p in places}) < 2 or not any(p.land_key == "05" for p in places):
            del spanning[code]
    return spanning, kreis_only


@cache
def _gemeinde_bodies(domain: str) -> frozenset[str]:
    """The Kreise in which the demo data has a body of ``domain`` for a single Gemeinde."""
    return frozenset(
        j["region_key"][:5]
        for org in demo_document(packaged_gazetteer())["organizations"]
        for j in org.get("jurisdictions", [])
        if j["legal_domain"] == domain and len(j["region_key"]) > 5
    )


def test_every_nrw_postal_code_spanning_kreise_is_ambiguous_never_a_guess(api: Api) -> None:
    spanning, _ = _nrw_postal_codes()
    assert len(spanning) >= 10 and "32046" in spanning
    for code, places in spanning.items():
        status, body = ask(api, legal_domain="SGB_II", location=code, residence_of="client")
        assert status == 200, (code, body)
        assert body["outcome"] == "ambiguous" and body["decides"] == "gemeinde", (code, body)
        kreise = {c["jurisdiction"]["region_key"][:5] for c in body["candidates"]}
        assert {p.kreis_key for p in places if p.land_key == "05"} <= kreise, (code, body)
        assert {p["region_key"][:5] for p in body["places"]} == {p.kreis_key for p in places}


def test_a_postal_code_mostly_in_one_kreis_names_the_likely_body_and_the_town_decides(api: Api) -> None:
    status, body = ask(api, legal_domain="SGB_II", location="32046", residence_of="client")
    names = {c["organization_id"]: c["name"] for c in body["candidates"]}
    assert sorted(names.values()) == ["Jobcenter Bielefeld (Demo)", "Jobcenter Kreis Herford (Demo)"]
    assert names[body["likely_organization_id"]] == "Jobcenter Kreis Herford (Demo)"
    assert "Wahrscheinlich, aber nicht sicher: Jobcenter Kreis Herford (Demo) (13 von 14" in body["explanation"]
    for location in ("32046 Herford", "Hauptstr. 1, 32046 Herford"):  # the town of the address tells the Kreis
        status, body = ask(api, legal_domain="SGB_II", location=location, residence_of="client")
        assert status == 200 and body["outcome"] == "responsible", body
        assert body["candidates"][0]["name"] == "Jobcenter Kreis Herford (Demo)"
        assert body["places"] == [
            {
                "region_key": "05758",
                "gemeinde_key": None,
                "postal_code": "32046",
                "label": "32046 Kreis Herford",
                "weight": 13,
            }
        ]


def test_every_nrw_postal_code_known_only_by_its_kreis_is_answered_for_the_kreis(api: Api) -> None:
    _, kreis_only = _nrw_postal_codes()
    assert len(kreis_only) >= 100
    with_own_jugendamt = _gemeinde_bodies("SGB_VIII")
    assert with_own_jugendamt and not _gemeinde_bodies("SGB_II")
    for code, places in kreis_only.items():
        kreis = places[0].kreis_key
        status, body = ask(api, legal_domain="SGB_II", location=code, residence_of="client")
        assert status == 200 and body["outcome"] == "responsible", (code, body)
        assert body["candidates"][0]["jurisdiction"]["region_key"] == kreis
        assert "nur auf Kreisebene bekannt" in body["explanation"]
        status, body = ask(api, legal_domain="SGB_VIII", location=code, residence_of="parents")
        if kreis in with_own_jugendamt:
            assert body["outcome"] == "ambiguous" and body["decides"] == "gemeinde", (code, body)
            keys = {c["jurisdiction"]["region_key"] for c in body["candidates"]}
            assert kreis in keys and any(len(k) == 8 and k.startswith(kreis) for k in keys)
            assert "nur der Kreis bekannt, nicht die Gemeinde" in body["explanation"]
        else:
            assert body["outcome"] == "responsible", (code, body)


def test_a_kreis_or_town_the_gazetteer_knows_only_by_name_is_answered(api: Api) -> None:
    status, body = ask(api, legal_domain="SGB_II", location="Kreis Herford", residence_of="client")
    assert body["outcome"] == "responsible" and body["candidates"][0]["name"] == "Jobcenter Kreis Herford (Demo)"
    status, body = ask(api, legal_domain="SGB_VIII", location="Ennepe-Ruhr-Kreis", residence_of="parents")
    assert body["outcome"] == "ambiguous" and body["decides"] == "gemeinde"
    assert len(body["candidates"]) == 9  # the Kreis's Jugendamt and the eight cities with their own
    # GeoNames writes "Emmerich" for the Gemeinde "Emmerich am Rhein"
    status, body = ask(api, legal_domain="SGB_II", location="Emmerich", residence_of="client")
    assert status == 200 and body["outcome"] == "responsible" and body["places"][0]["gemeinde_key"] == "05154008"


def test_a_referral_where_the_place_spans_kreise_needs_the_case_managers_choice(api: Api) -> None:
    status, answer = ask(api, legal_domain="SGB_II", location="32046", residence_of="client")
    likely = answer["likely_organization_id"]
    sender = api.token(Role.CASE_MANAGER, SENDER_ORG)
    new = referral_body(likely, legal_domain="SGB_II", location="32046", residence_of="client")
    refused = api.post("/referrals", new, sender)
    assert refused.status_code == 422 and refused.json["errors"][0]["name"] == "recipient_organization_id"
    created = api.post("/referrals", {**new, "recipient_organization_id": likely}, sender)
    assert created.status_code == 201, created.json
    assert created.json["region_key"] == "05758" and created.json["decision"]["chosen_by_case_manager"]
    # ambiguous with a single candidate: 59969 reaches into Hessen, where the directory knows no Jobcenter
    status, answer = ask(api, legal_domain="SGB_II", location="59969", residence_of="client")
    assert status == 200 and answer["outcome"] == "ambiguous" and len(answer["candidates"]) == 1
    only = answer["candidates"][0]["organization_id"]
    new = referral_body(only, legal_domain="SGB_II", location="59969", residence_of="client")
    assert api.post("/referrals", new, sender).status_code == 422
    assert api.post("/referrals", {**new, "recipient_organization_id": only}, sender).status_code == 201


def test_common_spellings_of_a_legal_domain_and_the_clients_own_residence_by_default(sqlite_api: Api) -> None:
    for spelling in ("AufenthG", "aufenthg", "AUFENTHG"):
        status, body = ask(sqlite_api, legal_domain=spelling, location="58452")  # residence_of: the client's
        assert status == 200 and body["legal_domain"] == "AUFENTHG" and body["residence_of"] == "client", body
    for spelling in ("SGB II", "sgb2", "SGB_II", "sgb-ii"):
        status, body = ask(sqlite_api, legal_domain=spelling, location="58452")
        assert status == 200 and body["legal_domain"] == "SGB_II", (spelling, body)
    status, body = ask(sqlite_api, legal_domain="SGB VIII", location="58452")  # whose residence: must be said
    assert status == 422 and body["errors"][0]["name"] == "residence_of" and "§ 86" in body["errors"][0]["reason"]
    status, body = ask(sqlite_api, legal_domain="SGB 99", location="58452")
    assert status == 400 and body["errors"][0]["name"] == "legal_domain" and "SGB_II" in body["errors"][0]["reason"]
    sender = sqlite_api.token(Role.CASE_MANAGER, SENDER_ORG)
    witten = sqlite_api.directory.org_named("Jugendamt der Stadt Witten (Demo)")
    made = sqlite_api.post("/referrals", referral_body(witten, legal_domain="sgb viii"), sender)
    assert made.status_code == 201 and made.json["legal_domain"] == "SGB_VIII", made.json
    wrong = sqlite_api.post("/referrals", referral_body(witten, legal_domain="Jugendhilfe"), sender)
    assert wrong.status_code == 422 and wrong.json["errors"][0]["name"] == "legal_domain"
