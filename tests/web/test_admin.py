"""Verwaltung for admins: a webhook that answered 410 Gone leaves a dead delivery, listed with its
organisation and what it was about; once the receiving organisation's endpoint answers again, the admin
re-drives it and it arrives (notify, its in-process delivery worker and a real webhook receiver)."""

import re
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role

from tests.notify.conftest import serving_receiver
from tests.routing.conftest import Directory
from tests.web.conftest import WITTEN, add_user, csrf, signed_in


def _until(check: Any, seconds: float = 45) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.2)
    return found


def _listing(admin: FlaskClient, referral: str) -> str:
    """The admin's page of deliveries once it lists one for the referral, else ""."""
    page = admin.get("/verwaltung/zustellungen").get_data(as_text=True)
    return page if referral in page else ""


def webhook_channel(agency: FlaskClient, target: str) -> str:
    page = agency.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    agency.post(
        "/einstellungen/benachrichtigungen", data={"csrf_token": csrf(page), "kind": "webhook", "target": target}
    )
    page = agency.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    found = re.search(
        re.escape(target) + r'.*?action="/einstellungen/benachrichtigungen/([0-9a-f-]+)/entfernen"', page, re.S
    )
    assert found, page
    return found.group(1)


def test_an_admin_re_drives_a_dead_delivery_once_the_endpoint_answers_again(
    web_app: Flask, directory: Directory, make_referral: Any
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    add_user(directory, "admin.web", "Ada A.", Role.ADMIN, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    admin = signed_in(web_app, "admin.web")
    with serving_receiver() as receiver:
        receiver.answers = [410]  # the endpoint says it is gone
        channel = webhook_channel(agency, f"{receiver.url}/zustellung")
        try:
            referral = make_referral()
            page = _until(lambda: _listing(admin, referral))
            row = re.search(rf'<tr class="kern-table__row">((?:(?!</tr>).)*/referrals/{referral}.*?)</tr>', page, re.S)
            assert row, page
            assert "Jugendamt der Stadt Witten (Demo)" in row.group(1) and "neue Vermittlung" in row.group(1)
            assert "HTTP 410" in row.group(1)
            [delivery] = re.findall(r'action="/verwaltung/zustellungen/([0-9a-f-]+)/erneut"', row.group(1))

            before = len(receiver.requests)
            done = admin.post(f"/verwaltung/zustellungen/{delivery}/erneut", data={"csrf_token": csrf(page)})
            assert "Die Zustellung wird erneut versucht." in admin.get(done.headers["Location"]).get_data(as_text=True)
            _until(lambda: len(receiver.requests) > before)
            assert receiver.requests[-1].status == 200
            after = admin.get("/verwaltung/zustellungen").get_data(as_text=True)
            assert f"/verwaltung/zustellungen/{delivery}/erneut" not in after
            again = admin.post(f"/verwaltung/zustellungen/{delivery}/erneut", data={"csrf_token": csrf(after)})
            assert "schon erneut versucht" in admin.get(again.headers["Location"]).get_data(as_text=True)
        finally:
            remove_channel(agency, channel)
    assert agency.get("/verwaltung/zustellungen").status_code == 404


def remove_channel(agency: FlaskClient, channel: str) -> None:
    page = agency.get("/einstellungen/benachrichtigungen").get_data(as_text=True)
    agency.post(f"/einstellungen/benachrichtigungen/{channel}/entfernen", data={"csrf_token": csrf(page)})


def test_an_admin_reads_who_saw_a_referral_and_how_users_log_in(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "admin.web", "Ada A.", Role.ADMIN, WITTEN)
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    add_user(directory, "ja.herford", "Hugo H.", Role.AGENCY, "Jugendamt Kreis Herford (Demo)")
    assert signed_in(web_app, "ja.witten").get(f"/referrals/{referral}").status_code == 200
    assert signed_in(web_app, "ja.herford").get(f"/referrals/{referral}").status_code == 404  # refused, and logged

    admin = signed_in(web_app, "admin.web")
    start = admin.get("/verwaltung").get_data(as_text=True)
    assert "Passwort (im Verzeichnis)" in start and "<code>admin.web</code>" in start
    found = admin.get("/verwaltung", query_string={"vermittlung": referral})
    assert found.status_code == 302 and found.headers["Location"].endswith(
        f"/verwaltung/vermittlungen/{referral}/protokoll"
    )
    log = admin.get(found.headers["Location"]).get_data(as_text=True)
    rows = re.findall(r'<tr class="kern-table__row">(.*?)</tr>', log, re.S)
    seen = [r for r in rows if "<code>ja.witten</code>" in r]
    assert seen and "Jugendamt der Stadt Witten (Demo)" in seen[0] and "geöffnet" in seen[0] and ">ja<" in seen[0]
    refused = [r for r in rows if "<code>ja.herford</code>" in r]
    assert refused and "<strong>verweigert</strong>" in refused[0]
    again = admin.get(found.headers["Location"]).get_data(as_text=True)
    assert "Protokoll gelesen" in re.findall(r'<tr class="kern-table__row">(.*?)</tr>', again, re.S)[-1]
    wrong = admin.get("/verwaltung", query_string={"vermittlung": "x"}).get_data(as_text=True)
    assert "keine Kennung einer Vermittlung" in wrong
    assert signed_in(web_app, "ja.witten").get(f"/verwaltung/vermittlungen/{referral}/protokoll").status_code == 404
