"""Zahlen for coordinators: routing's figures and the directory's searches that found nothing as charts (SVG)
with their tables, filtered by legal domain, region and period, each table as CSV; no personal data, and
counts under 5 only as "unter 5"."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import urllib3
from flask import Flask
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier
from lotse_web.entrypoints.web import local_time

from tests.routing.conftest import ADMIN, SECRET, Directory
from tests.web.conftest import KI_EN, WITTEN, add_user, signed_in


def declined(directory: Directory, routing_url: str, referral: str, reason: str) -> None:
    agency = HmacTokenVerifier(SECRET).issue("ja.witten", Role.AGENCY, directory.org_named(WITTEN), "Jan A.")
    answer = urllib3.request(
        "POST",
        f"{routing_url}/api/v1/referrals/{referral}/decline",
        json={"reason_code": reason},
        headers={"Authorization": f"Bearer {agency}"},
    )
    assert answer.status == 200, answer.data


def test_a_coordinator_sees_declines_per_reason_as_chart_table_and_csv(
    web_app: Flask, directory: Directory, routing_url: str, make_referral: Any
) -> None:
    for _ in range(5):
        declined(directory, routing_url, make_referral(), "keine_kapazitaet")
    add_user(directory, "ko.enkreis", "Kora K.", Role.COORDINATOR, KI_EN)
    client = signed_in(web_app, "ko.enkreis")
    page = client.get("/zahlen", query_string={"region": "Ennepe-Ruhr-Kreis", "rechtskreis": "SGB_VIII"})
    shown = page.get_data(as_text=True)
    assert page.status_code == 200, shown
    assert "Ennepe-Ruhr-Kreis, SGB VIII – Kinder- und Jugendhilfe, vermittelt vom" in shown
    reasons = shown[shown.index('id="titel-ablehnungen"') : shown.index('id="titel-weiterleitungen"')]
    assert '<svg class="lotse-chart" role="img"' in reasons and "keine Kapazität" in reasons
    rows = dict(_rows(client.get("/zahlen/ablehnungen.csv", query_string={"region": "05954"})))
    assert int(rows["keine Kapazität"]) >= 5
    places = shown[shown.index('id="titel-regionen"') : shown.index('id="titel-ohne-treffer"')]
    assert '<th scope="row" class="kern-table__cell">Witten</th>' in places  # the Gemeinde by its name
    assert "Samira" not in shown and "Beispiel" not in shown  # the referrals' client

    elsewhere = client.get("/zahlen", query_string={"region": "Bielefeld"}).get_data(as_text=True)
    assert "keine Kapazität" not in elsewhere
    tomorrow = (local_time.today() + timedelta(days=1)).isoformat()
    later = client.get("/zahlen", query_string={"von": tomorrow, "bis": tomorrow}).get_data(as_text=True)
    assert "keine Kapazität" not in later and later.count("Keine im gewählten Zeitraum.") >= 3
    wrong = client.get("/zahlen", query_string={"region": "Atlantis", "von": "2026-12-03", "bis": "2026-01-01"})
    assert wrong.status_code == 400 and "kennen wir nicht" in wrong.get_data(as_text=True)
    assert "nicht vor dem ersten" in wrong.get_data(as_text=True)
    assert client.get("/zahlen/gibtsnicht.csv").status_code == 404

    assert signed_in(web_app, "cm.witten").get("/zahlen").status_code == 404


def test_the_period_ends_on_berlins_day_while_utc_is_still_on_the_day_before(
    web_app: Flask, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 00:30 in Berlin the server's UTC date is yesterday; a referral declined then counts today."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "Clock":
            moment = datetime(2026, 12, 3, 23, 30, tzinfo=UTC).astimezone(tz)
            return cls(*moment.timetuple()[:6], tzinfo=moment.tzinfo)

    monkeypatch.setattr(local_time, "datetime", Clock)
    assert local_time.today() == date(2026, 12, 4)
    add_user(directory, "ko.enkreis", "Kora K.", Role.COORDINATOR, KI_EN)
    page = signed_in(web_app, "ko.enkreis").get("/zahlen").get_data(as_text=True)
    assert 'id="bis" name="bis" type="date" value="2026-12-04"' in page


def _rows(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))[1:]


def test_a_coordinator_sees_where_offers_are_long_unconfirmed(web_app: Flask, directory: Directory) -> None:
    entries = directory.container.entries
    org = entries.create(ADMIN, "organization", {"name": "Treffpunkt Hattingen (Test)", "description": "x"}).values
    offer = entries.create(  # never confirmed
        ADMIN, "service", {"organization_id": org["id"], "name": "Elterncafé (Test)", "status": "active"}
    ).values
    place = entries.create(
        ADMIN,
        "location",
        {
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Treffpunkt",
            "latitude": 51.399,
            "longitude": 7.186,
        },
    ).values
    entries.create(
        ADMIN,
        "address",
        {
            "location_id": place["id"],
            "address_1": "Markt 1",
            "city": "Hattingen",
            "postal_code": "45525",
            "country": "DE",
            "address_type": "physical",
            "state_province": "NW",
        },
    )
    entries.create(ADMIN, "service_at_location", {"service_id": offer["id"], "location_id": place["id"]})
    add_user(directory, "ko.veraltet", "Vera K.", Role.COORDINATOR, KI_EN)
    client = signed_in(web_app, "ko.veraltet")

    shown = client.get("/zahlen", query_string={"region": "Ennepe-Ruhr-Kreis"}).get_data(as_text=True)
    stale = shown[shown.index('id="titel-veraltet"') :]
    assert "seit über 365 Tagen nicht bestätigt" in stale and '<svg class="lotse-chart" role="img"' in stale
    assert '<th scope="col" class="kern-table__header">Gemeinde</th>' in stale
    before = {r[0]: (int(r[1]), int(r[2])) for r in _rows(client.get("/zahlen/veraltet.csv?region=05954"))}
    offers, unconfirmed = before["Hattingen"]
    assert unconfirmed >= 1 and offers >= unconfirmed

    directory.container.verification.confirm(ADMIN, "service", str(offer["id"]), "*")
    after = {r[0]: (int(r[1]), int(r[2])) for r in _rows(client.get("/zahlen/veraltet.csv?region=05954"))}
    assert after["Hattingen"] == (offers, unconfirmed - 1)
    everywhere = {r[0]: r for r in _rows(client.get("/zahlen/veraltet.csv"))}
    assert "Ennepe-Ruhr-Kreis" in everywhere and "Hattingen" not in everywhere  # per Kreis
    entries.delete(ADMIN, "organization", str(org["id"]), "*")
