"""Zahlen for coordinators: routing's figures and the directory's searches that found nothing as charts (SVG)
with their tables, filtered by legal domain, region and period, each table as CSV; no personal data, and
counts under 5 only as "unter 5"."""

import csv
import io
from datetime import date, timedelta
from typing import Any

import urllib3
from flask import Flask
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier

from tests.routing.conftest import SECRET, Directory
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
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    later = client.get("/zahlen", query_string={"von": tomorrow, "bis": tomorrow}).get_data(as_text=True)
    assert "keine Kapazität" not in later and later.count("Keine im gewählten Zeitraum.") >= 3
    wrong = client.get("/zahlen", query_string={"region": "Atlantis", "von": "2026-12-03", "bis": "2026-01-01"})
    assert wrong.status_code == 400 and "kennen wir nicht" in wrong.get_data(as_text=True)
    assert "nicht vor dem ersten" in wrong.get_data(as_text=True)
    assert client.get("/zahlen/gibtsnicht.csv").status_code == 404

    assert signed_in(web_app, "cm.witten").get("/zahlen").status_code == 404


def _rows(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))[1:]
