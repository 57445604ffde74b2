"""An agency's notification settings in the browser application: e-mail addresses and webhooks of its own
organisation, a webhook's signing secret shown once (never in the session cookie), renewed and removed, and a
test message over a channel to a real webhook receiver (through notify)."""

import re

from flask import Flask
from lotse_contracts import Role

from tests.notify.conftest import serving_receiver
from tests.routing.conftest import Directory
from tests.web.conftest import add_user, csrf, signed_in

ORG = "Jugendamt der Stadt Bochum (Demo)"


def test_an_agency_sets_where_it_is_told_and_sees_a_webhook_secret_once(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "ja.bochum", "Bea B.", Role.AGENCY, ORG)
    client = signed_in(web_app, "ja.bochum")
    page = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    assert "Benachrichtigungen" in page
    mail = client.post(
        "/einstellungen/benachrichtigungen",
        data={"csrf_token": csrf(page), "kind": "email", "target": "eingang@jugendamt-bochum.example"},
    )
    assert mail.status_code == 302
    page = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    assert "E-Mail:</span> eingang@jugendamt-bochum.example" in page

    made = client.post(
        "/einstellungen/benachrichtigungen",
        data={"csrf_token": csrf(page), "kind": "webhook", "target": "http://127.0.0.1:9/lotse"},
    )
    shown = made.get_data(as_text=True)
    [secret] = re.findall(r'<code class="lotse-secret">(whsec_[^<]+)</code>', shown)
    assert "whsec_" not in str(made.headers.get("Set-Cookie", ""))
    again = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    assert secret not in again and "Webhook (in Ihr Fachverfahren):</span> http://127.0.0.1:9/lotse" in again

    [webhook] = re.findall(r'action="/einstellungen/benachrichtigungen/([0-9a-f-]+)/schluessel"', again)
    renewed = client.post(f"/einstellungen/benachrichtigungen/{webhook}/schluessel", data={"csrf_token": csrf(again)})
    [new_secret] = re.findall(r'<code class="lotse-secret">(whsec_[^<]+)</code>', renewed.get_data(as_text=True))
    assert new_secret != secret

    bad = client.post(
        "/einstellungen/benachrichtigungen", data={"csrf_token": csrf(again), "kind": "webhook", "target": "ftp://x"}
    )
    assert bad.status_code == 400 and "Diese Adresse nehmen wir nicht an" in bad.get_data(as_text=True)

    removed = client.post(f"/einstellungen/benachrichtigungen/{webhook}/entfernen", data={"csrf_token": csrf(again)})
    after = client.get(removed.headers["Location"]).get_data(as_text=True)
    assert "Der Weg ist entfernt." in after and "127.0.0.1:9/lotse" not in after

    add_user(directory, "ja.herford2", "Hugo H.", Role.AGENCY, "Jugendamt Kreis Herford (Demo)")
    other = signed_in(web_app, "ja.herford2")
    own = other.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    assert "jugendamt-bochum" not in own
    [mail_id] = re.findall(r'action="/einstellungen/benachrichtigungen/([0-9a-f-]+)/entfernen"', after)
    assert (
        other.post(f"/einstellungen/benachrichtigungen/{mail_id}/entfernen", data={"csrf_token": csrf(own)}).status_code
        == 404
    )
    assert signed_in(web_app, "cm.witten").get("/einstellungen/benachrichtigungen").status_code == 404


def test_an_agency_sends_a_test_message_and_reads_whether_it_arrived(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "ja.bochum", "Bea B.", Role.AGENCY, ORG)
    client = signed_in(web_app, "ja.bochum")
    with serving_receiver() as receiver:
        page = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
        target = f"{receiver.url}/fachverfahren"
        client.post(
            "/einstellungen/benachrichtigungen", data={"csrf_token": csrf(page), "kind": "webhook", "target": target}
        )
        page = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
        found = re.search(
            re.escape(target) + r'.*?action="/einstellungen/benachrichtigungen/([0-9a-f-]+)/testen"', page, re.S
        )
        assert found, page
        hook = found.group(1)
        tested = client.post(f"/einstellungen/benachrichtigungen/{hook}/testen", data={"csrf_token": csrf(page)})
        told = client.get(tested.headers["Location"]).get_data(as_text=True)
        assert "Die Testnachricht ist angekommen" in told
        assert [r.json["type"] for r in receiver.requests] == ["notify.test"]

        receiver.failing = True
        client.post(f"/einstellungen/benachrichtigungen/{hook}/testen", data={"csrf_token": csrf(page)})
        told = client.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
        assert "Die Testnachricht ist nicht angekommen (HTTP 500)" in told
        client.post(f"/einstellungen/benachrichtigungen/{hook}/entfernen", data={"csrf_token": csrf(page)})
