"""Bad input gets a clear 4xx problem that names the field, never a 500, and writes nothing."""

import json

import pytest

from tests.directory.conftest import Api

PROBLEM = "application/problem+json"


def _count(api: Api) -> int:
    return int(api.client.get("/api/v1/organizations", headers=api.admin()).json["total_items"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{kaputt", "application/json", 400, "body"),
        (b'{"name": 5, "description": "x"}', "application/json", 422, "name"),
        (b'{"name": "x"}', "application/json", 422, "description"),
        (b'{"name": "x", "description": "y", "farbe": "rot"}', "application/json", 422, "farbe"),
        (b'{"name": "x", "description": "y", "legal_domains": ["SGB_99"]}', "application/json", 422, "legal_domains"),
        (b"name=x", "application/x-www-form-urlencoded", 415, "Content-Type"),
        (b"\xff\xfe", "application/json", 400, "body"),
        (b"[]", "application/json", 422, "body"),
    ],
)
def test_malformed_bodies_get_problems_naming_the_field(
    sqlite_api: Api, body: bytes, content_type: str, status: int, field: str
) -> None:
    response = sqlite_api.client.post(
        "/api/v1/organizations", data=body, content_type=content_type, headers=sqlite_api.admin()
    )
    assert response.status_code == status, response.json
    assert response.mimetype == PROBLEM
    assert field in {e["name"] for e in response.json["errors"]}
    assert _count(sqlite_api) == 0


def test_oversize_body_gets_413(sqlite_api: Api) -> None:
    big = b'{"name": "' + b"x" * 2_000_000 + b'", "description": "y"}'
    response = sqlite_api.client.post(
        "/api/v1/organizations", data=big, content_type="application/json", headers=sqlite_api.admin()
    )
    assert response.status_code == 413 and response.mimetype == PROBLEM
    assert _count(sqlite_api) == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/organizations/..%2F..", "/api/v1/organizations/" + "a" * 300, "/api/v1/services/nicht-da"]
)
def test_bad_or_unknown_ids_get_4xx(sqlite_api: Api, path: str) -> None:
    response = sqlite_api.client.get(path, headers=sqlite_api.admin())
    assert response.status_code in (400, 404) and response.mimetype == PROBLEM


def test_bad_query_parameters_get_400(sqlite_api: Api) -> None:
    for query in ("page=0", "per_page=1000", "page=eins", "sortierung=name"):
        response = sqlite_api.client.get(f"/api/v1/organizations?{query}", headers=sqlite_api.admin())
        assert response.status_code == 400, query
        assert response.json["errors"][0]["name"] in query


def test_german_rules_name_the_field(sqlite_api: Api) -> None:
    org = sqlite_api.create("organizations", {"name": "x", "description": "y"})
    response = sqlite_api.client.post(
        "/api/v1/locations",
        json={
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Paris",
            "latitude": 48.85,
            "longitude": 2.35,
        },
        headers=sqlite_api.admin(),
    )
    assert response.status_code == 422 and response.json["errors"][0]["name"] == "latitude"
    response = sqlite_api.client.post(
        "/api/v1/schedules",
        json={"freq": "WEEKLY", "byday": "MO,XX", "opens_at": "18:00", "closes_at": "09:00"},
        headers=sqlite_api.admin(),
    )
    assert {e["name"] for e in response.json["errors"]} == {"byday", "closes_at"}


def test_missing_or_forged_token_gets_401(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/api/v1/organizations").status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    response = sqlite_api.client.get("/api/v1/organizations", headers=forged)
    assert response.status_code == 401 and response.mimetype == PROBLEM


def test_openapi_document_is_generated_and_docs_are_served(sqlite_api: Api) -> None:
    from openapi_spec_validator import validate

    spec = sqlite_api.client.get("/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert "/api/v1/services/{ident}" in spec["paths"]
    assert sqlite_api.client.get("/docs").status_code == 200


def test_text_postgresql_or_utf_8_cannot_hold_is_refused_on_both_databases(api: Api) -> None:
    """A NUL (PostgreSQL refuses it in text) or a lone surrogate (UTF-8 cannot encode it) was a 500."""
    for name in ("Caritas\u0000Witten", "Caritas \ud800", "\u200b\u200d"):
        response = api.client.post(
            "/api/v1/organizations",
            data=json.dumps({"name": name, "description": "x"}),
            content_type="application/json",
            headers=api.admin(),
        )
        assert response.status_code == 422 and response.json["errors"][0]["name"] == "name", name
    assert api.client.get("/api/v1/organizations", headers=api.admin()).json["total_items"] == 0
