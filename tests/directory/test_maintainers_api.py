"""The maintainers' API on SQLite and PostgreSQL: CRUD, If-Match, history, rights, events."""

import json
from typing import Any

from lotse_contracts import EventEnvelope, Role
from lotse_directory.adapters.storage.tables import outbox
from lotse_kit.outbox import InProcessBus
from lotse_kit.schema_errors import event_validator
from sqlalchemy import select

from tests.directory.conftest import Api

PLZ_WITTEN = "58452"


def _org(api: Api, name: str = "Caritas Witten (Test)", headers: dict[str, str] | None = None) -> Any:
    return api.create("organizations", {"name": name, "description": "Beratung"}, headers)


def _events(api: Api) -> list[dict[str, Any]]:
    with api.container.engine.connect() as conn:
        return [json.loads(p) for p in conn.execute(select(outbox.c.payload).order_by(outbox.c.seq)).scalars()]


def test_maintainer_creates_organisation_with_offer_edits_it_and_sees_history(api: Api) -> None:
    home = _org(api, "KI Ennepe-Ruhr (Test)")
    maintainer = api.token(Role.MAINTAINER, home["id"])
    org = _org(api, "AWO Witten (Test)", maintainer)
    offer = api.create(
        "services",
        {"organization_id": org["id"], "name": "Deutschkurs", "status": "active", "legal_domains": ["AUFENTHG"]},
        maintainer,
    )
    read = api.client.get(f"/api/v1/services/{offer['id']}", headers=maintainer)
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'

    changed = api.client.patch(
        f"/api/v1/services/{offer['id']}",
        json={"name": "Integrationskurs"},
        headers={**maintainer, "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["name"] == "Integrationskurs" and changed.headers["ETag"] == '"2"'

    history = api.client.get(f"/api/v1/services/{offer['id']}/history", headers=maintainer).json
    update = [h for h in history if h["last_action_type"] == "update"]
    assert [(h["field_name"], h["previous_value"], h["replacement_value"]) for h in update] == [
        ("name", "Deutschkurs", "Integrationskurs")
    ]
    assert all(h["updated_by"] == "user-1" for h in history)


def test_stale_if_match_gets_412_and_changes_nothing(api: Api) -> None:
    org = _org(api)
    first = api.client.patch(
        f"/api/v1/organizations/{org['id']}", json={"name": "Neu"}, headers={**api.admin(), "If-Match": '"1"'}
    )
    assert first.status_code == 200
    stale = api.client.patch(
        f"/api/v1/organizations/{org['id']}", json={"name": "Verloren"}, headers={**api.admin(), "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert stale.json["errors"][0]["name"] == "If-Match"
    assert stale.headers["ETag"] == '"2"'
    assert api.client.get(f"/api/v1/organizations/{org['id']}", headers=api.admin()).json["name"] == "Neu"


def test_write_without_if_match_gets_428(api: Api) -> None:
    org = _org(api)
    response = api.client.patch(f"/api/v1/organizations/{org['id']}", json={"name": "X"}, headers=api.admin())
    assert response.status_code == 428
    delete = api.client.delete(f"/api/v1/organizations/{org['id']}", headers=api.admin())
    assert delete.status_code == 428


def test_maintainer_cannot_edit_other_organisations(api: Api) -> None:
    mine = _org(api, "Meine Org")
    other = _org(api, "Fremde Org")
    maintainer = api.token(Role.MAINTAINER, mine["id"])
    response = api.client.patch(
        f"/api/v1/organizations/{other['id']}", json={"name": "Übernommen"}, headers={**maintainer, "If-Match": '"1"'}
    )
    assert response.status_code == 403
    sneaky = api.client.post(
        "/api/v1/services", json={"organization_id": other["id"], "name": "x", "status": "active"}, headers=maintainer
    )
    assert sneaky.status_code == 403
    moved = api.create("services", {"organization_id": mine["id"], "name": "y", "status": "active"}, maintainer)
    steal = api.client.patch(
        f"/api/v1/services/{moved['id']}",
        json={"organization_id": other["id"]},
        headers={**maintainer, "If-Match": '"1"'},
    )
    assert steal.status_code == 403
    assert api.client.get(f"/api/v1/organizations/{other['id']}", headers=api.admin()).json["name"] == "Fremde Org"


def test_other_roles_read_but_cannot_write(api: Api) -> None:
    org = _org(api)
    for role in (Role.CASE_MANAGER, Role.AGENCY, Role.COORDINATOR):
        headers = api.token(role, org["id"])
        assert api.client.get(f"/api/v1/organizations/{org['id']}", headers=headers).status_code == 200
        response = api.client.post("/api/v1/organizations", json={"name": "x", "description": "y"}, headers=headers)
        assert response.status_code == 403


def test_internal_address_is_hidden_from_case_managers(api: Api) -> None:
    org = _org(api)
    location = api.create(
        "locations",
        {
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Frauenhaus",
            "latitude": 51.43,
            "longitude": 7.33,
        },
    )
    address = api.create(
        "addresses",
        {
            "location_id": location["id"],
            "address_1": "Geheim 1",
            "city": "Witten",
            "state_province": "NRW",
            "postal_code": PLZ_WITTEN,
            "country": "DE",
            "address_type": "physical",
            "visibility": "internal",
        },
    )
    case_manager = api.token(Role.CASE_MANAGER, "someone-else")
    assert api.client.get(f"/api/v1/addresses/{address['id']}", headers=case_manager).status_code == 404
    listing = api.client.get(f"/api/v1/addresses?location_id={location['id']}", headers=case_manager).json
    assert listing["contents"] == []
    maintainer = api.token(Role.MAINTAINER, org["id"])
    assert api.client.get(f"/api/v1/addresses/{address['id']}", headers=maintainer).status_code == 200


def test_every_change_writes_a_versioned_event_without_personal_data(api: Api) -> None:
    org = _org(api)
    contact = api.create(
        "contacts", {"organization_id": org["id"], "name": "Erika Mustermann", "email": "erika@example.org"}
    )
    api.client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"name": "Erika Muster"}, headers={**api.admin(), "If-Match": '"1"'}
    )
    events = _events(api)
    assert [e["type"] for e in events] == [
        "directory.organization.changed",
        "directory.contact.changed",
        "directory.contact.changed",
    ]
    assert events[-1]["data"]["action"] == "updated" and events[-1]["data"]["fields"] == ["name"]
    assert events[-1]["data"]["organization_ids"] == [org["id"]]
    assert "Erika" not in json.dumps(events) and "example.org" not in json.dumps(events)


def test_delete_removes_owned_entries_and_unlinks_shared_ones(api: Api) -> None:
    org = _org(api)
    service = api.create("services", {"organization_id": org["id"], "name": "Kurs", "status": "active"})
    location = api.create("locations", {"organization_id": org["id"], "location_type": "physical", "name": "Büro"})
    only_service = api.create(
        "schedules",
        {"service_id": service["id"], "byday": "MO", "freq": "WEEKLY", "opens_at": "09:00", "closes_at": "12:00"},
    )
    shared = api.create("phones", {"service_id": service["id"], "location_id": location["id"], "number": "0"})
    response = api.client.delete(f"/api/v1/services/{service['id']}", headers={**api.admin(), "If-Match": '"1"'})
    assert response.status_code == 204
    assert api.client.get(f"/api/v1/schedules/{only_service['id']}", headers=api.admin()).status_code == 404
    phone = api.client.get(f"/api/v1/phones/{shared['id']}", headers=api.admin()).json
    assert phone["service_id"] is None and phone["location_id"] == location["id"]


def test_jurisdiction_validates_region_key_and_postal_codes(api: Api) -> None:
    org = api.create(
        "organizations", {"name": "Jugendamt Witten (Test)", "description": "JA", "authority_for": ["SGB_VIII"]}
    )
    good = {
        "organization_id": org["id"],
        "legal_domain": "SGB_VIII",
        "region_key": "05954036",
        "postal_codes": ["58452", "58453"],
        "source": "§ 2 AG-KJHG NRW",
        "verified_on": "2026-01-15",
    }
    api.create("jurisdictions", good)
    bad = {**good, "region_key": "05999999", "postal_codes": ["5845", "99999"], "legal_domain": "SGB_XX"}
    response = api.client.post("/api/v1/jurisdictions", json=bad, headers=api.admin())
    assert response.status_code == 422
    assert {e["name"] for e in response.json["errors"]} == {"legal_domain"}
    response = api.client.post("/api/v1/jurisdictions", json={**bad, "legal_domain": "SGB_VIII"}, headers=api.admin())
    assert {e["name"] for e in response.json["errors"]} == {"region_key", "postal_codes.0", "postal_codes.1"}


def test_relay_hands_directory_events_to_subscribers_valid_against_their_contract(api: Api) -> None:
    received: list[tuple[EventEnvelope, str]] = []
    bus = InProcessBus()
    bus.subscribe("directory.service.changed.#", lambda event, key: received.append((event, key)))
    org = _org(api)
    service = api.create(
        "services", {"organization_id": org["id"], "name": "Kurs", "status": "active", "legal_domains": ["SGB_II"]}
    )
    assert api.container.outbox.relay(bus) == 2
    assert api.container.outbox.pending() == 0
    [(event, key)] = received
    assert event.data["id"] == service["id"] and key.startswith("directory.service.changed.")
    event_validator(event.type, event.version).validate(event.to_dict())


def test_change_feed_gives_services_the_events_in_order(api: Api) -> None:
    org = _org(api)
    api.client.patch(
        f"/api/v1/organizations/{org['id']}", json={"description": "Neu"}, headers={**api.admin(), "If-Match": '"1"'}
    )
    service = api.token(Role.SERVICE, None)
    whole = api.client.get("/api/v1/events", headers=service)
    assert whole.status_code == 200, whole.json
    assert [e["event"]["data"]["action"] for e in whole.json["events"]] == ["created", "updated"]
    first, second = whole.json["events"]
    assert first["seq"] < second["seq"] == whole.json["last_seq"]
    assert second["routing_key"] == "directory.organization.changed.any.any"
    assert second["event"] == _events(api)[1]
    rest = api.client.get("/api/v1/events", query_string={"after": first["seq"]}, headers=service).json
    assert rest == {"events": [second], "last_seq": second["seq"]}
    one = api.client.get("/api/v1/events", query_string={"limit": 1}, headers=service).json
    assert one == {"events": [first], "last_seq": second["seq"]}

    assert api.client.get("/api/v1/events").status_code == 401
    assert api.client.get("/api/v1/events", headers=api.token(Role.CASE_MANAGER, org["id"])).status_code == 403
    bad = api.client.get("/api/v1/events", query_string={"after": -1}, headers=service)
    assert bad.status_code == 400 and bad.json["errors"][0]["name"] == "after"


def test_changes_in_one_request_stand_or_fall_together(api: Api) -> None:
    org = _org(api)
    maintainer = api.token(Role.MAINTAINER, org["id"])
    place, address = "3f0b6f0e-7d4c-4a55-9a57-1b0f0a6a1c01", "3f0b6f0e-7d4c-4a55-9a57-1b0f0a6a1c02"
    location = {"organization_id": org["id"], "location_type": "physical", "name": "Büro", "latitude": 51.44}
    good_address = {
        "location_id": place,
        "address_1": "Ruhrstr. 1",
        "city": "Witten",
        "postal_code": PLZ_WITTEN,
        "country": "DE",
        "address_type": "physical",
        "state_province": "NW",
        "visibility": "case_managers",
    }
    bad_address = {**good_address, "postal_code": "00000"}
    changes = [
        {"op": "create", "collection": "locations", "id": place, "body": {**location, "longitude": 7.33}},
        {"op": "create", "collection": "addresses", "id": address, "body": bad_address},
    ]
    refused = api.client.post("/api/v1/changes", json={"changes": changes}, headers=maintainer)
    assert refused.status_code == 422, refused.json
    assert "changes.1.postal_code" in {e["name"] for e in refused.json["errors"]}
    assert api.client.get(f"/api/v1/locations/{place}", headers=maintainer).status_code == 404  # nothing written

    changes[1]["body"] = good_address
    made = api.client.post("/api/v1/changes", json={"changes": changes}, headers=maintainer)
    assert made.status_code == 200, made.json
    assert [(r["id"], r["etag"]) for r in made.json["results"]] == [(place, '"1"'), (address, '"1"')]
    assert made.json["results"][1]["entry"]["visibility"] == "case_managers"

    renamed = {"op": "update", "collection": "locations", "id": place, "if_match": '"1"', "body": {"name": "Neu"}}
    gone = {"op": "delete", "collection": "addresses", "id": address, "if_match": '"7"'}  # stale: nothing happens
    stale = api.client.post("/api/v1/changes", json={"changes": [renamed, gone]}, headers=maintainer)
    assert stale.status_code == 412
    assert api.client.get(f"/api/v1/locations/{place}", headers=maintainer).json["name"] == "Büro"
    gone["if_match"] = '"1"'
    done = api.client.post("/api/v1/changes", json={"changes": [renamed, gone]}, headers=maintainer)
    assert done.status_code == 200 and done.json["results"][1] == {"id": address, "deleted": True}
    assert api.client.get(f"/api/v1/addresses/{address}", headers=maintainer).status_code == 404
    parts = api.client.get(f"/api/v1/organizations/{org['id']}/parts", headers=maintainer).json
    assert [p["name"] for p in parts["locations"]] == ["Neu"] and parts.get("services") == []
    assert api.client.get(f"/api/v1/locations/{place}/parts", headers=maintainer).json.get("addresses") == []

    other = api.token(Role.MAINTAINER, _org(api, "Fremde Org")["id"])
    renamed["if_match"] = '"2"'
    assert api.client.post("/api/v1/changes", json={"changes": [renamed]}, headers=other).status_code == 403
    for body, field in [
        ({"changes": []}, "changes"),
        ({"changes": [{"op": "update", "collection": "locations", "body": {}}]}, "changes.0.id"),
        ({"changes": [{"op": "create", "collection": "metadata", "body": {}}]}, "changes.0.collection"),
        ({"changes": [{"op": "delete", "collection": "locations", "id": place}]}, "If-Match"),
    ]:
        answer = api.client.post("/api/v1/changes", json=body, headers=maintainer)
        assert answer.status_code in (400, 422, 428), (body, answer.json)
        assert answer.json["errors"][0]["name"] == field, answer.json
    case_manager = api.token(Role.CASE_MANAGER, org["id"])
    assert api.client.post("/api/v1/changes", json={"changes": [renamed]}, headers=case_manager).status_code == 403


def test_a_maintainer_lists_the_organisations_it_maintains(api: Api) -> None:
    home = _org(api, "KI Ennepe-Ruhr (Test)")
    maintainer = api.token(Role.MAINTAINER, home["id"])
    made = _org(api, "AWO Witten (Test)", maintainer)  # made by the maintainer: maintained by its organisation
    _org(api, "Fremde Org")
    answer = api.client.get("/api/v1/maintained_organizations", headers=maintainer)
    assert [o["name"] for o in answer.json["contents"]] == ["AWO Witten (Test)", "KI Ennepe-Ruhr (Test)"]
    assert answer.json["contents"][0]["id"] == made["id"]
    every = api.client.get("/api/v1/maintained_organizations", headers=api.admin()).json["contents"]
    assert len(every) == 3
    refused = api.client.get("/api/v1/maintained_organizations", headers=api.token(Role.CASE_MANAGER, home["id"]))
    assert refused.status_code == 403
