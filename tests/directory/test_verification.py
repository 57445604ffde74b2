"""Verification: confirming entries, and the list of entries whose confirmation is due."""

from datetime import UTC, date, datetime, timedelta

from lotse_contracts import Role
from lotse_directory.domain.verification import due_since, is_stale

from tests.directory.conftest import Api

TODAY = date(2026, 11, 21)


def test_staleness_follows_the_configured_period() -> None:
    fresh = {"verified_at": "2026-06-01T10:00:00Z"}
    old = {"verified_at": "2025-11-20T23:30:00+00:00"}
    assert not is_stale("service", fresh, TODAY, 365)
    assert due_since("service", old, TODAY, 365) == date(2026, 11, 20)
    assert is_stale("service", fresh, TODAY, 100)
    assert due_since("service", {}, TODAY, 365) == date.min  # never verified
    assert due_since("service", {"verified_at": "kaputt"}, TODAY, 365) == date.min
    assert not is_stale("jurisdiction", {"verified_on": "2026-01-02"}, TODAY, 365)
    assert is_stale("jurisdiction", {"verified_on": "2025-01-02"}, TODAY, 365)


def test_due_list_shows_stale_entries_of_my_organisations_and_confirming_clears_them(api: Api) -> None:
    home = api.create("organizations", {"name": "KI Lippe (Test)", "description": "x"})
    other = api.create("organizations", {"name": "Fremd (Test)", "description": "x"})
    recent = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds").replace("+00:00", "Z")
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat(timespec="seconds").replace("+00:00", "Z")
    fresh = api.create(
        "services", {"organization_id": home["id"], "name": "Frisch", "status": "active", "verified_at": recent}
    )
    stale = api.create(
        "services", {"organization_id": home["id"], "name": "Alt", "status": "active", "verified_at": old}
    )
    api.create("services", {"organization_id": other["id"], "name": "Fremd", "status": "active"})
    maintainer = api.token(Role.MAINTAINER, home["id"], sub="pflege-1")

    due = api.client.get("/api/v1/verification/due", headers=maintainer)
    assert due.status_code == 200, due.json
    listed = {(r["entity"], r["id"]): r for r in due.json["contents"]}
    assert set(listed) == {("organization", home["id"]), ("service", stale["id"])}
    assert listed[("organization", home["id"])]["stale_since"] is None  # never verified
    assert listed[("service", stale["id"])]["last_verified"] == old[:10]
    assert ("service", fresh["id"]) not in listed

    confirmed = api.client.post(f"/api/v1/services/{stale['id']}/verify", headers={**maintainer, "If-Match": '"1"'})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["verified_by"] == "pflege-1" and confirmed.headers["ETag"] == '"2"'
    history = api.client.get(f"/api/v1/services/{stale['id']}/history", headers=maintainer).json
    assert "verified_at" in {h["field_name"] for h in history}
    after = api.client.get("/api/v1/verification/due", headers=maintainer).json["contents"]
    assert ("service", stale["id"]) not in {(r["entity"], r["id"]) for r in after}

    admin_view = api.client.get("/api/v1/verification/due", headers=api.admin()).json["contents"]
    assert {r["organization_id"] for r in admin_view} == {home["id"], other["id"]}


def test_confirming_needs_if_match_and_maintainer_rights(sqlite_api: Api) -> None:
    api = sqlite_api
    org = api.create("organizations", {"name": "Org (Test)", "description": "x"})
    assert api.client.post(f"/api/v1/organizations/{org['id']}/verify", headers=api.admin()).status_code == 428
    case_manager = api.token(Role.CASE_MANAGER, org["id"])
    forbidden = api.client.post(
        f"/api/v1/organizations/{org['id']}/verify", headers={**case_manager, "If-Match": '"1"'}
    )
    assert forbidden.status_code == 403
    assert api.client.get("/api/v1/verification/due", headers=case_manager).status_code == 403
