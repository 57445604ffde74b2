"""An offer's provider confirms or corrects it through a signed, expiring link without an account; the offer's
maintainers make the links and see the answers; a link answers once, a forged one is unknown, an expired one
is gone."""

from typing import Any

import pytest
from lotse_contracts import Role

from tests.directory.conftest import Api


def _offer(api: Api) -> tuple[dict[str, Any], dict[str, str]]:
    org = api.create("organizations", {"name": "AWO Witten (Test)", "description": "Beratung"})
    offer = api.create("services", {"organization_id": org["id"], "name": "Sprachcafé", "status": "active"})
    return offer, api.token(Role.MAINTAINER, org["id"])


def _link(api: Api, offer: dict[str, Any], headers: dict[str, str]) -> str:
    made = api.client.post(f"/api/v1/services/{offer['id']}/confirmation_links", headers=headers)
    assert made.status_code == 201, made.json
    return str(made.json["token"])


def test_a_provider_confirms_once_and_the_offer_counts_as_confirmed(api: Api) -> None:
    offer, maintainer = _offer(api)
    token = _link(api, offer, maintainer)
    shown = api.client.get(f"/api/v1/provider_confirmations/{token}")  # no account
    assert shown.status_code == 200 and shown.json["service"]["name"] == "Sprachcafé"
    assert shown.json["answer"] is None and shown.json["expires_at"].endswith("Z")

    neither = api.client.post(f"/api/v1/provider_confirmations/{token}", json={})
    assert neither.status_code == 400 and neither.json["errors"][0]["name"] == "correction"
    done = api.client.post(f"/api/v1/provider_confirmations/{token}", json={"still_right": True})
    assert done.status_code == 200 and done.json["kind"] == "confirmed"
    stored = api.client.get(f"/api/v1/services/{offer['id']}", headers=maintainer).json
    assert stored["verified_at"] and stored["verified_by"].startswith("provider-link:")
    history = api.client.get(f"/api/v1/services/{offer['id']}/history", headers=maintainer).json
    assert any(h["field_name"] == "verified_at" and h["updated_by"].startswith("provider-link:") for h in history)

    again = api.client.post(f"/api/v1/provider_confirmations/{token}", json={"correction": "Neue Adresse"})
    assert again.status_code == 409
    assert api.client.get(f"/api/v1/provider_confirmations/{token}").json["answer"]["kind"] == "confirmed"


def test_a_correction_waits_for_the_maintainers_until_one_deals_with_it(api: Api) -> None:
    offer, maintainer = _offer(api)
    token = _link(api, offer, maintainer)
    said = api.client.post(f"/api/v1/provider_confirmations/{token}", json={"correction": "Dienstags geschlossen"})
    assert said.status_code == 200 and said.json["kind"] == "correction"
    assert not api.client.get(f"/api/v1/services/{offer['id']}", headers=maintainer).json.get("verified_at")
    waiting = api.client.get("/api/v1/provider_replies", query_string={"open": "true"}, headers=maintainer).json
    [reply] = waiting["contents"]
    assert reply["text"] == "Dienstags geschlossen" and reply["service_name"] == "Sprachcafé"

    other = api.token(Role.MAINTAINER, api.create("organizations", {"name": "Fremd", "description": "x"})["id"])
    assert api.client.get("/api/v1/provider_replies", headers=other).json["contents"] == []
    assert api.client.post(f"/api/v1/provider_replies/{reply['link_id']}/done", headers=other).status_code == 404
    assert api.client.post(f"/api/v1/provider_replies/{reply['link_id']}/done", headers=maintainer).status_code == 204
    assert api.client.post(f"/api/v1/provider_replies/{reply['link_id']}/done", headers=maintainer).status_code == 409
    assert api.client.get("/api/v1/provider_replies?open=true", headers=maintainer).json["contents"] == []


def test_only_its_maintainers_make_links_and_forged_or_expired_ones_do_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer, maintainer = _offer(api)
    for headers, status in [
        (api.token(Role.CASE_MANAGER, "org"), 403),
        (api.token(Role.MAINTAINER, api.create("organizations", {"name": "Fremd", "description": "x"})["id"]), 403),
    ]:
        made = api.client.post(f"/api/v1/services/{offer['id']}/confirmation_links", headers=headers)
        assert made.status_code == status
    token = _link(api, offer, maintainer)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.client.get(f"/api/v1/provider_confirmations/{forged}").status_code == 404
    assert api.client.get("/api/v1/provider_confirmations/kurz").status_code == 400
    monkeypatch.setattr(api.container.provider_links, "valid_days", -1)  # made more than the period ago
    gone = api.client.post(f"/api/v1/provider_confirmations/{token}", json={"still_right": True})
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"
    assert not api.client.get(f"/api/v1/services/{offer['id']}", headers=maintainer).json.get("verified_at")
