"""Notification channels (webhook, e-mail) on SQLite and PostgreSQL: who sees and edits them, what is checked,
secret rotation, events without values, and that they stay out of the published directory."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lotse_contracts import Role
from lotse_contracts.webhooks import secret_bytes
from lotse_directory.adapters.storage.tables import outbox
from sqlalchemy import select, text

from tests.directory.conftest import Api


def _org(api: Api, name: str) -> Any:
    return api.create("organizations", {"name": name, "description": "Amt"})


def _add(api: Api, org_id: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return api.client.post(f"/api/v1/organizations/{org_id}/notification_channels", json=body, headers=headers)


def test_maintainer_adds_a_webhook_with_a_secret_and_only_its_own_people_see_it(api: Api) -> None:
    org = _org(api, "Jugendamt Witten (Test)")
    other = _org(api, "Jobcenter EN (Test)")
    maintainer = api.token(Role.MAINTAINER, org["id"])
    made = _add(api, org["id"], {"kind": "webhook", "target": "https://fachverfahren.example/lotse"}, maintainer)
    assert made.status_code == 201, made.json
    channel = made.json
    assert made.headers["ETag"] == '"1"'
    assert made.headers["Location"].endswith(f"/notification_channels/{channel['id']}")
    assert channel["enabled"] is True and len(channel["secrets"]) == 1
    assert len(secret_bytes(channel["secrets"][0]["secret"])) == 32

    listed = api.client.get(f"/api/v1/organizations/{org['id']}/notification_channels", headers=maintainer)
    assert [c["id"] for c in listed.json["contents"]] == [channel["id"]]
    service = api.client.get(
        f"/api/v1/organizations/{org['id']}/notification_channels", headers=api.token(Role.SERVICE, None, "svc")
    )
    assert service.json["contents"][0]["secrets"] == channel["secrets"]

    stranger = api.token(Role.MAINTAINER, other["id"])
    agency = api.token(Role.AGENCY, org["id"])  # the organisation's own receiving staff set where they are told
    other_agency = api.token(Role.AGENCY, other["id"])
    of_org = f"/api/v1/organizations/{org['id']}/notification_channels"
    assert api.client.get(of_org, headers=stranger).status_code == 403
    assert api.client.get(f"/api/v1/notification_channels/{channel['id']}", headers=stranger).status_code == 404
    assert api.client.get(of_org, headers=agency).status_code == 200
    assert api.client.get(of_org, headers=other_agency).status_code == 403
    assert api.client.get(f"/api/v1/notification_channels/{channel['id']}", headers=other_agency).status_code == 404
    assert _add(api, org["id"], {"kind": "email", "target": "eingang@jugendamt.example"}, agency).status_code == 201
    assert _add(api, org["id"], {"kind": "email", "target": "a@b.de"}, other_agency).status_code == 403
    assert _add(api, org["id"], {"kind": "email", "target": "a@b.de"}, stranger).status_code == 403
    patched = api.client.patch(
        f"/api/v1/notification_channels/{channel['id']}",
        json={"enabled": False},
        headers={**stranger, "If-Match": '"1"'},
    )
    assert patched.status_code == 404

    # not in the published directory, nor in the HSDS export of the organisation
    public = api.client.get(f"/hsds/organizations/{org['id']}").get_data(as_text=True)
    assert channel["secrets"][0]["secret"] not in public and "fachverfahren.example" not in public


def test_targets_are_checked_and_bad_input_names_the_field(api: Api) -> None:
    org = _org(api, "ABH Hagen (Test)")
    admin = api.admin()
    cases = [
        ({"kind": "webhook", "target": "http://fachverfahren.example/hook"}, "target"),  # https only
        # inside the network (SSRF): metadata, loopback, private, link-local, mapped, control characters
        ({"kind": "webhook", "target": "https://169.254.169.254/latest/meta-data"}, "target"),
        ({"kind": "webhook", "target": "https://metadata.google.internal/computeMetadata/v1/"}, "target"),
        ({"kind": "webhook", "target": "https://[::ffff:169.254.169.254]/"}, "target"),
        ({"kind": "webhook", "target": "https://[::ffff:10.0.0.7]/"}, "target"),
        ({"kind": "webhook", "target": "http://127.0.0.1:8009/webhook"}, "target"),
        ({"kind": "webhook", "target": "https://localhost:5432/"}, "target"),
        ({"kind": "webhook", "target": "https://10.1.2.3/hook"}, "target"),
        ({"kind": "webhook", "target": "https://192.168.0.10/hook"}, "target"),
        ({"kind": "webhook", "target": "https://[fe80::1]/hook"}, "target"),
        ({"kind": "webhook", "target": "https://100.64.0.1/hook"}, "target"),
        ({"kind": "webhook", "target": "https://x.example/a\r\nX-Injected: 1"}, "target"),
        ({"kind": "webhook", "target": "https://x.example/\u0000"}, "target"),
        ({"kind": "webhook", "target": "ftp://x.example/"}, "target"),
        ({"kind": "webhook", "target": "https://user:pw@x.example/"}, "target"),
        ({"kind": "email", "target": "kein-name"}, "target"),
        ({"kind": "sms", "target": "0170"}, "kind"),
        ({"kind": "email", "target": "a@b.de", "extra": 1}, "extra"),
    ]
    for body, name in cases:
        answer = _add(api, org["id"], body, admin)
        assert answer.status_code in (400, 422), (body, answer.json)
        assert answer.mimetype == "application/problem+json"
        assert any(name in e["name"] for e in answer.json["errors"]), (body, answer.json)
    public = _add(api, org["id"], {"kind": "webhook", "target": "https://93.184.215.14/lotse"}, admin)
    assert public.status_code == 201, public.json
    # a target changed to one inside the network is refused as well
    moved = api.client.patch(
        f"/api/v1/notification_channels/{public.json['id']}",
        json={"target": "https://[::1]:8443/"},
        headers={**admin, "If-Match": public.headers["ETag"]},
    )
    assert moved.status_code == 422 and moved.json["errors"][0]["name"] == "target"
    mail = _add(api, org["id"], {"kind": "email", "target": "abh@hagen.example"}, admin)
    assert mail.status_code == 201 and mail.json["secrets"] == []
    assert _add(api, "no-such-org", {"kind": "email", "target": "a@b.de"}, admin).status_code == 404
    listed = api.client.get(f"/api/v1/organizations/{org['id']}/notification_channels", headers=admin).json
    assert listed["total_items"] == 2  # nothing of the refused ones was written


def test_an_operator_allows_a_network_for_webhooks(api: Api) -> None:
    """The demo's receiver on this machine, or a municipal network: only where the operator says so."""
    from dataclasses import replace

    from lotse_kit.webhook_targets import TargetPolicy

    org = _org(api, "Jugendamt (Test)")
    allowed = TargetPolicy.from_env({"LOTSE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, 10.20.0.0/16"})
    channels = api.container.channels
    api.container.channels = replace(channels, targets=allowed)
    try:
        for target in ("http://127.0.0.1:8009/webhook", "https://10.20.3.4/lotse"):
            assert _add(api, org["id"], {"kind": "webhook", "target": target}, api.admin()).status_code == 201
        for target in ("https://10.21.0.1/", "https://169.254.169.254/", "https://[::1]/"):
            assert _add(api, org["id"], {"kind": "webhook", "target": target}, api.admin()).status_code == 422
    finally:
        api.container.channels = channels


def test_edits_need_the_current_etag_and_rotation_keeps_the_old_secret_for_a_while(api: Api) -> None:
    org = _org(api, "Einbürgerung Bochum (Test)")
    admin = api.admin()
    channel = _add(api, org["id"], {"kind": "webhook", "target": "https://bochum.example/hook"}, admin).json
    url = f"/api/v1/notification_channels/{channel['id']}"
    assert api.client.patch(url, json={"enabled": False}, headers=admin).status_code == 428
    assert api.client.patch(url, json={"enabled": False}, headers={**admin, "If-Match": '"7"'}).status_code == 412
    assert api.client.patch(url, json={"kind": "email"}, headers={**admin, "If-Match": '"1"'}).status_code == 422

    rotated = api.client.post(f"{url}/rotate_secret", json={"keep_old_hours": 2}, headers={**admin, "If-Match": '"1"'})
    assert rotated.status_code == 200, rotated.json
    new, old = rotated.json["secrets"]
    assert old["secret"] == channel["secrets"][0]["secret"] and new["expires_at"] is None
    expiry = datetime.fromisoformat(old["expires_at"])
    assert timedelta(hours=1.9) < expiry - datetime.now(UTC) <= timedelta(hours=2)
    assert rotated.headers["ETag"] == '"2"'

    # once the old secret has expired it is not shown (nor used) any more
    api.container.channels.now = lambda: datetime.now(UTC) + timedelta(hours=3)
    try:
        later = api.client.get(url, headers=admin).json
    finally:
        api.container.channels.now = lambda: datetime.now(UTC)
    assert [s["secret"] for s in later["secrets"]] == [new["secret"]]

    at_once = api.client.post(f"{url}/rotate_secret", json={"keep_old_hours": 0}, headers={**admin, "If-Match": '"2"'})
    assert len(at_once.json["secrets"]) == 1
    assert api.client.delete(url, headers={**admin, "If-Match": '"3"'}).status_code == 204
    assert api.client.get(url, headers=admin).status_code == 404


def test_changes_are_events_without_values_and_an_organisation_takes_its_channels_along(api: Api) -> None:
    org = _org(api, "Jobcenter Hagen (Test)")
    admin = api.admin()
    channel = _add(api, org["id"], {"kind": "webhook", "target": "https://jc-hagen.example/h"}, admin).json
    api.client.patch(
        f"/api/v1/notification_channels/{channel['id']}",
        json={"target": "https://jc-hagen.example/neu"},
        headers={**admin, "If-Match": '"1"'},
    )
    gone = api.client.delete(f"/api/v1/organizations/{org['id']}", headers={**admin, "If-Match": '"1"'})
    assert gone.status_code == 204
    with api.container.engine.connect() as conn:
        payloads = list(conn.execute(select(outbox.c.payload).order_by(outbox.c.seq)).scalars())
    events = [json.loads(p) for p in payloads if "notification_channel" in p]
    assert [(e["data"]["action"], e["data"]["revision"]) for e in events] == [
        ("created", 1),
        ("updated", 2),
        ("deleted", 0),
    ]
    assert events[1]["data"]["fields"] == ["target"]
    assert all(e["data"]["organization_ids"] == [org["id"]] for e in events)
    assert not any("jc-hagen" in p or "whsec_" in p for p in payloads)
    assert api.client.get(f"/api/v1/notification_channels/{channel['id']}", headers=admin).status_code == 404


def test_webhook_secrets_are_sealed_at_rest_and_old_plain_ones_sealed_at_upgrade(api: Api) -> None:
    org = _org(api, "Jobcenter Hagen (Test)")
    made = _add(api, org["id"], {"kind": "webhook", "target": "https://jc-hagen.example/h"}, api.admin()).json
    secret = made["secrets"][0]["secret"]
    with api.container.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM lotse_notification_channel")) for v in row)
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    # a channel written before secrets were sealed: still read, and sealed by `db upgrade`
    with api.container.engine.begin() as conn:
        conn.execute(
            text("UPDATE lotse_notification_channel SET secrets = :s WHERE id = :id"),
            {"s": json.dumps([{"secret": "whsec_plain-from-before", "expires_at": None}]), "id": made["id"]},
        )
    read = api.client.get(f"/api/v1/notification_channels/{made['id']}", headers=api.admin()).json
    assert read["secrets"][0]["secret"] == "whsec_plain-from-before"
    api.container.migrate()
    with api.container.engine.connect() as conn:
        raw = conn.execute(text("SELECT secrets FROM lotse_notification_channel")).scalar_one()
    assert "plain-from-before" not in str(raw)
    read = api.client.get(f"/api/v1/notification_channels/{made['id']}", headers=api.admin()).json
    assert read["secrets"][0]["secret"] == "whsec_plain-from-before"
