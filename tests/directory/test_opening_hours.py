"""An offer's opening hours as the maintainers' editor reads and replaces them: one change in one transaction,
guarded by the offer's ETag, refused with the offending field named, only for the offer's maintainers."""

from typing import Any

from lotse_contracts import Role
from lotse_directory.domain.opening_hours import schedules, split

from tests.directory.conftest import Api

HOURS = {
    "weekly": [
        {"days": ["MO", "TU", "TH"], "opens_at": "08:00", "closes_at": "12:00"},
        {"days": ["TH"], "opens_at": "14:00", "closes_at": "18:30"},
    ],
    "by_appointment": True,
    "closed_on_public_holidays": True,
    "closures": [{"from": "2026-12-21", "to": "2027-01-01", "note": "Betriebsferien"}],
}


def test_the_editors_hours_and_the_schedules_that_store_them_are_the_same() -> None:
    rows = [{**row, "id": str(i)} for i, row in enumerate(schedules(HOURS, "svc"))]
    found = split(rows)
    assert found.hours == HOURS and found.kept == [] and len(found.editable) == 4
    monthly = {"id": "m", "freq": "MONTHLY", "byday": "1MO", "opens_at": "10:00", "closes_at": "12:00"}
    summer = {
        "id": "s",
        "freq": "WEEKLY",
        "byday": "WE",
        "opens_at": "09:00",
        "closes_at": "11:00",
        "valid_to": "2026-08-31",
    }
    assert split([*rows, monthly, summer]).kept == [monthly, summer]
    only_holidays = {**HOURS, "weekly": [], "by_appointment": False, "closures": []}
    assert split([{**r, "id": "h"} for r in schedules(only_holidays, "svc")]).hours == only_holidays


def _offer(api: Api) -> tuple[dict[str, Any], dict[str, str]]:
    org = api.create("organizations", {"name": "Caritas Witten (Test)", "description": "x"})
    service = api.create("services", {"organization_id": org["id"], "name": "Migrationsberatung", "status": "active"})
    monthly = {
        "service_id": service["id"],
        "freq": "MONTHLY",
        "byday": "1MO",
        "opens_at": "10:00",
        "closes_at": "12:00",
    }
    api.create("schedules", monthly)
    api.create(
        "schedules",
        {"service_id": service["id"], "freq": "WEEKLY", "byday": "FR", "opens_at": "09:00", "closes_at": "13:00"},
    )
    return service, api.token(Role.MAINTAINER, org["id"], sub="pflege-1")


def test_replacing_the_hours_is_one_change_guarded_by_the_offers_etag(api: Api) -> None:
    service, maintainer = _offer(api)
    url = f"/api/v1/services/{service['id']}/opening_hours"
    read = api.client.get(url, headers=maintainer)
    assert read.status_code == 200, read.json
    assert read.json["weekly"] == [{"days": ["FR"], "opens_at": "09:00", "closes_at": "13:00"}]
    assert [k["freq"] for k in read.json["kept"]] == ["MONTHLY"]  # not the editor's: kept as it is
    assert read.json["service_name"] == "Migrationsberatung"  # the editor's page needs no second read
    assert read.headers["ETag"] == '"1"'

    changed = api.client.put(url, json=HOURS, headers={**maintainer, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.json
    assert {k: changed.json[k] for k in HOURS} == HOURS
    assert changed.headers["ETag"] == '"2"' and len(changed.json["kept"]) == 1
    rows = api.client.get("/api/v1/schedules", query_string={"service_id": service["id"]}, headers=maintainer).json
    assert rows["total_items"] == 5  # 2 weekly ranges, nach Vereinbarung, the closure, the monthly one kept
    offer = api.client.get(f"/api/v1/services/{service['id']}", headers=maintainer).json
    assert offer["last_modified"]
    history = api.client.get(f"/api/v1/services/{service['id']}/history", headers=maintainer).json
    assert "last_modified" in {h["field_name"] for h in history}

    stale = api.client.put(url, json={**HOURS, "weekly": []}, headers={**maintainer, "If-Match": '"1"'})
    assert stale.status_code == 412  # another maintainer saved in between
    assert api.client.get(url, headers=maintainer).json["weekly"] == HOURS["weekly"]


def test_bad_hours_are_refused_with_the_field_named_and_nothing_written(api: Api) -> None:
    service, maintainer = _offer(api)
    url = f"/api/v1/services/{service['id']}/opening_hours"
    for hours, field in [
        ({**HOURS, "weekly": [{"days": ["MO"], "opens_at": "12:00", "closes_at": "08:00"}]}, "weekly.0.closes_at"),
        ({**HOURS, "weekly": [{"days": ["MO"], "opens_at": "25:00", "closes_at": "26:00"}]}, "weekly.0.opens_at"),
        ({**HOURS, "weekly": [{"days": ["XX"], "opens_at": "08:00", "closes_at": "09:00"}]}, "weekly.0.days.0"),
        ({**HOURS, "closures": [{"from": "2026-12-21", "to": "2026-12-01"}]}, "closures.0.to"),
        ({**HOURS, "closures": [{"from": "morgen", "to": "2026-12-01"}]}, "closures.0.from"),
    ]:
        refused = api.client.put(url, json=hours, headers={**maintainer, "If-Match": '"1"'})
        assert refused.status_code in (400, 422), refused.json
        assert field in {e["name"] for e in refused.json["errors"]}, (field, refused.json)
    assert api.client.get(url, headers=maintainer).headers["ETag"] == '"1"'
    missing = api.client.put(url, json=HOURS, headers=maintainer)
    assert missing.status_code == 428


def test_only_the_offers_maintainers_change_its_hours(api: Api) -> None:
    service, _ = _offer(api)
    url = f"/api/v1/services/{service['id']}/opening_hours"
    other = api.create("organizations", {"name": "Fremd (Test)", "description": "x"})
    stranger = api.token(Role.MAINTAINER, other["id"], sub="fremd-1")
    assert api.client.put(url, json=HOURS, headers={**stranger, "If-Match": '"1"'}).status_code == 403
    case_manager = api.token(Role.CASE_MANAGER, other["id"], sub="cm-1")
    assert api.client.put(url, json=HOURS, headers={**case_manager, "If-Match": '"1"'}).status_code == 403
    assert api.client.get(url, headers=case_manager).status_code == 200
    assert api.client.get("/api/v1/services/nichtda/opening_hours", headers=case_manager).status_code == 404
