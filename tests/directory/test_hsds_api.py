"""The HSDS 3.0 read API: every response validates against the HSDS compiled schemas; public only."""

import json
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.directory.conftest import Api
from tests.directory.test_exchange import COMPILED, _example, compiled

PAGE_KEYS = {"total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"}


def _get(api: Api, path: str, **params: Any) -> Any:
    response = api.client.get(f"/hsds{path}", query_string=params)
    assert response.status_code == 200, (path, params, response.json)
    return response.json


def _valid(schema: str, item: Any) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in compiled(schema).iter_errors(item)]
    assert errors == [], (schema, errors[:5])


def _page(result: Any, schema: str) -> list[Any]:
    assert set(result) == PAGE_KEYS
    for item in result["contents"]:
        _valid(schema, item)
    return list(result["contents"])


@pytest.fixture
def data(sqlite_api: Api) -> dict[str, Any]:
    """The HSDS examples (every kind of entry), plus an offer with a shelter and a confidential contact."""
    api = sqlite_api
    for name in ("service_full.json", "organization_full.json", "service_at_location_full.json"):
        response = api.client.post("/api/v1/import", json=_example(name), headers=api.admin())
        assert response.status_code == 200, response.json
    org = api.create("organizations", {"name": "Frauenhilfe Witten (Test)", "description": "Schutz und Beratung"})
    service = api.create(
        "services",
        {"organization_id": org["id"], "name": "Frauenberatung", "status": "active", "legal_domains": ["SGB_VIII"]},
    )
    shelter = api.create(
        "locations",
        {
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Schutzhaus",
            "latitude": 51.4,
            "longitude": 7.3,
        },
    )
    api.create(
        "addresses",
        {
            "location_id": shelter["id"],
            "address_1": "Geheim 1",
            "city": "Witten",
            "postal_code": "58452",
            "country": "DE",
            "address_type": "physical",
            "state_province": "NW",
            "visibility": "case_managers",
        },
    )
    office = api.create(
        "locations",
        {
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Beratungsbüro",
            "latitude": 51.44,
            "longitude": 7.34,
        },
    )
    api.create(
        "addresses",
        {
            "location_id": office["id"],
            "address_1": "Ruhrstraße 1",
            "city": "Witten",
            "postal_code": "58452",
            "country": "DE",
            "address_type": "physical",
            "state_province": "NW",
        },
    )
    for location in (shelter, office):
        api.create("service_at_locations", {"service_id": service["id"], "location_id": location["id"]})
    api.create("contacts", {"service_id": service["id"], "name": "Frau A.", "title": "Beratung"})
    api.create("contacts", {"service_id": service["id"], "name": "Frau B.", "visibility": "case_managers"})
    taxonomy = api.create("taxonomies", {"name": "KIM-Themen (Test)", "description": "Themen", "version": "1"})
    term = api.create(
        "taxonomy_terms",
        {"taxonomy_id": taxonomy["id"], "code": "gewaltschutz", "name": "Gewaltschutz", "description": "Schutz"},
    )
    api.create(
        "attributes",
        {"link_id": service["id"], "link_entity": "service", "link_type": "topic", "taxonomy_term_id": term["id"]},
    )
    return {"org": org, "service": service, "shelter": shelter, "office": office, "term": term}


def test_root_declares_version_profile_and_openapi(sqlite_api: Api) -> None:
    info = _get(sqlite_api, "/")
    assert info["version"] == "3.0"
    assert info["openapi_url"].endswith("/openapi.json") and info["profile"].endswith("/hsds/profile")
    profile = _get(sqlite_api, "/profile")
    assert {"legal_domains", "verified_at", "visibility"} <= set(profile["extensions"]["service"]) | set(
        profile["extensions"]["address"]
    )
    assert "jurisdiction" in profile["tables"]
    spec = sqlite_api.client.get("/openapi.json").json
    for path in ("/hsds/services", "/hsds/services/{ident}", "/hsds/organizations", "/hsds/service_at_locations"):
        assert path in spec["paths"], path


def test_lists_and_items_validate_against_the_compiled_schemas(sqlite_api: Api, data: dict[str, Any]) -> None:
    api = sqlite_api
    services = _page(_get(api, "/services"), "service_list")
    assert len(services) == 2 and all("last_modified" in s for s in services)
    for full in _page(_get(api, "/services", full="true"), "service"):
        _valid("service", _get(api, f"/services/{full['id']}"))
    organizations = _page(_get(api, "/organizations"), "organization_list")
    assert {o["name"] for o in organizations} >= {"Frauenhilfe Witten (Test)"}
    for org in organizations:
        _valid("organization", _get(api, f"/organizations/{org['id']}"))
        _valid("organization", _get(api, f"/organizations/{org['id']}", full_service="true"))
    _page(_get(api, "/organizations", full="true"), "organization")
    for sal in _page(_get(api, "/service_at_locations"), "service_at_location_list"):
        _valid("service_at_location", _get(api, f"/service_at_locations/{sal['id']}"))
    _page(_get(api, "/service_at_locations", full="true"), "service_at_location")
    taxonomies = _get(api, "/taxonomies")["contents"]
    terms = _get(api, "/taxonomy_terms")["contents"]
    assert taxonomies and terms
    for t in taxonomies:  # the HSDS API answers these with the plain (not compiled) schemas
        assert not list(_plain("taxonomy").iter_errors(_get(api, f"/taxonomies/{t['id']}")))
    for t in terms:
        assert not list(_plain("taxonomy_term").iter_errors(_get(api, f"/taxonomy_terms/{t['id']}")))


@cache
def _plain(name: str) -> Draft202012Validator:
    """A plain HSDS schema, its references to the others resolved by file name."""
    schemas = {p.name: json.loads(p.read_text()) for p in COMPILED.parent.glob("*.json")}
    registry: Registry[Any] = Registry().with_resources(
        (file, Resource.from_contents(schema, default_specification=DRAFT202012)) for file, schema in schemas.items()
    )
    return Draft202012Validator(schemas[f"{name}.json"], registry=registry)


def test_only_public_data_is_published(sqlite_api: Api, data: dict[str, Any]) -> None:
    api = sqlite_api
    service = _get(api, f"/services/{data['service']['id']}")
    assert [c["name"] for c in service["contacts"]] == ["Frau A."]
    places = [sal["location"]["name"] for sal in service["service_at_locations"]]
    assert places == ["Beratungsbüro"]  # the shelter is not even shown with its coordinates
    assert "metadata" not in service and "verified_by" not in service
    assert _get(api, "/service_at_locations", postcode="58452")["total_items"] == 1
    text = json.dumps(_get(api, "/services", format="json", full="true"))
    assert "Geheim" not in text and "Frau B." not in text and "Schutzhaus" not in text
    ndjson = api.client.get("/hsds/service_at_locations", query_string={"format": "ndjson", "full": "true"})
    assert ndjson.mimetype == "application/x-ndjson" and "Schutzhaus" not in ndjson.get_data(as_text=True)
    with api.container.store.transaction() as session:
        hidden = session.select("service_at_location", {"location_id": data["shelter"]["id"]})
    assert api.client.get(f"/hsds/service_at_locations/{hidden[0]['id']}").status_code == 404


def test_filters_paging_and_ndjson(sqlite_api: Api, data: dict[str, Any]) -> None:
    api = sqlite_api
    first = _get(api, "/services", per_page=1)
    second = _get(api, "/services", per_page=1, page=2)
    assert first["total_items"] == 2 and first["total_pages"] == 2 and first["first_page"] and not first["last_page"]
    assert second["last_page"] and first["contents"][0]["id"] != second["contents"][0]["id"]
    assert [s["name"] for s in _get(api, "/services", organization_id=data["org"]["id"])["contents"]] == [
        "Frauenberatung"
    ]
    assert [s["name"] for s in _get(api, "/services", search="Frauenberatungen")["contents"]] == ["Frauenberatung"]
    minimal = _get(api, "/services", minimal="true")["contents"]
    assert all(set(m) == {"id", "last_modified"} for m in minimal)
    later = _get(api, "/services", modified_after="2999-01-01T00:00:00Z")
    assert later["empty"] and later["contents"] == []
    newest = max(minimal, key=lambda m: m["last_modified"])
    stamp = datetime.fromisoformat(newest["last_modified"].replace("Z", "+00:00"))
    east = stamp.astimezone(timezone(timedelta(hours=2))).isoformat()  # the same instant, another offset
    assert newest["id"] in {s["id"] for s in _get(api, "/services", modified_after=east)["contents"]}
    term = data["term"]
    assert [s["name"] for s in _get(api, "/services", taxonomy_term_id=term["id"])["contents"]] == ["Frauenberatung"]
    assert [s["name"] for s in _get(api, "/services", taxonomy_id=term["taxonomy_id"])["contents"]] == [
        "Frauenberatung"
    ]
    assert [t["name"] for t in _get(api, "/taxonomy_terms", taxonomy_id=term["taxonomy_id"])["contents"]] == [
        "Gewaltschutz"
    ]
    shown = _get(api, f"/services/{data['service']['id']}")
    assert [a["taxonomy_term"]["name"] for a in shown["attributes"]] == ["Gewaltschutz"]
    near = _get(api, "/service_at_locations", postcode="58452", proximity=2000)
    assert near["total_items"] == 1  # the office, 1 km away; the shelter is not published
    far = _get(api, "/service_at_locations", postcode="45468", proximity=2000)
    assert far["total_items"] == 0
    lines = api.client.get("/hsds/services", query_string={"format": "ndjson", "per_page": 1}).get_data(as_text=True)
    assert len([json.loads(line) for line in lines.splitlines()]) == 2  # all, unpaged
    for params, field in [
        ({"per_page": 0}, "per_page"),
        ({"page": "x"}, "page"),
        ({"format": "xml"}, "format"),
        ({"modified_after": "gestern"}, "modified_after"),
        ({"postcode": "99999"}, "postcode"),
        ({"proximity": 100}, "proximity"),
        ({"bogus": 1}, "bogus"),
    ]:
        response = api.client.get("/hsds/service_at_locations", query_string=params)
        assert response.status_code == 400, (params, response.json)
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"][0]["name"] == field
    assert api.client.get("/hsds/services/not-an-id").status_code in (400, 404)
    assert api.client.get("/hsds/services/00000000-0000-4000-8000-000000000000").status_code == 404


def test_cors_is_open_and_no_token_is_needed(sqlite_api: Api, data: dict[str, Any]) -> None:
    response = sqlite_api.client.get("/hsds/services", headers={"Origin": "https://example.org"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://example.org")  # any origin
