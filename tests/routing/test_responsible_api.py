"""Who is responsible? Asked over the API, answered from the real directory over HTTP."""

from lotse_contracts import Role

from tests.routing.conftest import Api

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
    assert "05954036" in body["explanation"] and "geprüft am 2026-10-01" in body["explanation"]
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
