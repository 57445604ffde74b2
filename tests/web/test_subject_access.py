"""Auskunft und Löschung (DSGVO Art. 15, 17) in the browser application: an admin finds everything about one
person by name and birth date, downloads it as JSON, records a withdrawal in the person's name and erases
closed referrals on request; nobody else reaches the pages."""

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import urllib3
from flask import Flask
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier

from tests.routing.conftest import SECRET, Directory
from tests.web.conftest import WITTEN, add_user, csrf, signed_in


def _decline(directory: Directory, routing_url: str, ident: str) -> None:
    token = HmacTokenVerifier(SECRET).issue("ja.witten", Role.AGENCY, directory.org_named(WITTEN), "Jan A.")
    answer = urllib3.request(
        "POST",
        f"{routing_url}/api/v1/referrals/{ident}/decline",
        json={"reason_code": "oertlich_unzustaendig"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status == 200, answer.data


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_an_admin_finds_exports_and_erases_what_lotse_holds_about_a_person(
    web_app: Flask, directory: Directory, routing_url: str, make_referral: Callable[..., str]
) -> None:
    family = f"Testfall-{uuid.uuid4().hex[:8]}"
    person = {"name": f"Zora {family}", "birth_date": "1985-06-15"}
    closed, still_open = make_referral(person), make_referral(person)
    another = make_referral({"name": f"Zora {family}", "birth_date": "1985-06-16"})  # another Zora: not hers
    _decline(directory, routing_url, closed)
    add_user(directory, "admin.auskunft", "Ada A.", Role.ADMIN, WITTEN)
    admin = signed_in(web_app, "admin.auskunft")
    assert 'href="/verwaltung/auskunft">Auskunft und Löschung</a>' in admin.get("/verwaltung").get_data(as_text=True)
    form = admin.get("/verwaltung/auskunft").get_data(as_text=True)
    assert "Andere Schreibweisen (Mueller statt Müller" in form  # the blind index matches one spelling only
    token = csrf(form)

    empty = admin.post("/verwaltung/auskunft", data={"csrf_token": token, "name": "", "geburtsdatum": "31.02.1985"})
    assert empty.status_code == 422
    assert 'href="#name">Geben Sie den Namen der Person ein.' in empty.get_data(as_text=True)
    assert 'href="#geburtsdatum">Geben Sie das Geburtsdatum als Datum ein' in empty.get_data(as_text=True)

    asked = {"csrf_token": token, "name": f"{family.upper()}, zora", "geburtsdatum": "15.06.1985"}
    found = admin.post("/verwaltung/auskunft", data=asked)
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "2 Vermittlungen, 2 Einwilligungen" in _text(page)
    assert page.count("Name und Geburtsdatum stimmen überein.") == 2
    assert f"Zora {family}, geboren am 15.06.1985" in _text(page)
    assert "Beratung zu Hilfen zur Erziehung" in page and "in einer Auskunft an die Person gefunden" not in page
    assert "Was die Person außerdem erfährt (Art. 15 Abs. 1 DSGVO)" in page
    assert f'value="{closed}"' in page and f'value="{still_open}"' not in page  # only the closed one is erasable

    export = admin.post("/verwaltung/auskunft/export", data=asked)
    assert export.mimetype == "application/json" and export.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="auskunft-art-15-dsgvo-\d{4}-\d\d-\d\d\.json"', export.headers["Content-Disposition"]
    )
    copy: dict[str, Any] = json.loads(export.get_data(as_text=True))
    assert {r["id"] for r in copy["daten"]["referrals"]} == {closed, still_open}
    assert copy["daten"]["referrals"][0]["client"]["name"] == f"Zora {family}" and copy["daten"]["audit"]
    assert copy["empfaenger"] == ["Jugendamt der Stadt Witten (Demo)"]  # Art. 15 Abs. 1: to whom, how long, …
    assert copy["speicherdauer"].startswith("Bis 365 Tage nach dem Ende") and "LDI NRW" in copy["beschwerde"]
    assert copy["kategorien"] == ["Anliegen", "Geburtsdatum", "Name"]
    assert "Kommunales Integrationszentrum Ennepe-Ruhr-Kreis (Demo)" in copy["herkunft"]

    unconfirmed = admin.post("/verwaltung/auskunft/loeschen", data={**asked, "vermittlung": closed})
    assert unconfirmed.status_code == 422 and 'href="#bestaetigt">' in unconfirmed.get_data(as_text=True)
    erased = admin.post("/verwaltung/auskunft/loeschen", data={**asked, "vermittlung": closed, "bestaetigt": "ja"})
    assert "Die Daten der Person aus einer Vermittlung sind gelöscht." in erased.get_data(as_text=True)
    assert "Eine Vermittlung, eine Einwilligung" in _text(erased.get_data(as_text=True))

    consent = re.search(r'name="einwilligung" value="([0-9a-f-]{36})"', erased.get_data(as_text=True))
    assert consent
    withdrawn = admin.post("/verwaltung/auskunft/widerruf", data={**asked, "einwilligung": consent.group(1)})
    after = withdrawn.get_data(as_text=True)
    assert "Die Einwilligung ist widerrufen; eine offene Vermittlung ist zurückgezogen." in after
    assert f'value="{still_open}"' in after  # cancelled: now it can go
    again = admin.post("/verwaltung/auskunft/widerruf", data={**asked, "einwilligung": consent.group(1)})
    assert "Nicht ausgeführt" in again.get_data(as_text=True) and "schon widerrufen" in again.get_data(as_text=True)
    foreign = admin.post("/verwaltung/auskunft/loeschen", data={**asked, "vermittlung": another, "bestaetigt": "ja"})
    assert "Nichts wurde gelöscht" in foreign.get_data(as_text=True)  # a form changed by hand: not hers
    admin.post("/verwaltung/auskunft/loeschen", data={**asked, "vermittlung": still_open, "bestaetigt": "ja"})
    nothing = admin.post("/verwaltung/auskunft", data=asked).get_data(as_text=True)
    assert "Lotse hat über diese Person nichts gespeichert" in nothing


def test_only_admins_reach_the_subject_access_pages(web_app: Flask, directory: Directory) -> None:
    case_manager = signed_in(web_app, "cm.witten")
    token = csrf(case_manager.get("/").get_data(as_text=True))
    assert case_manager.get("/verwaltung/auskunft").status_code == 404
    person = {"csrf_token": token, "name": "Zora Beispiel", "geburtsdatum": "15.06.1985"}
    for path in ("", "/export", "/loeschen", "/widerruf"):
        assert case_manager.post(f"/verwaltung/auskunft{path}", data=person).status_code == 404
    signed_out = web_app.test_client().get("/verwaltung/auskunft")
    assert signed_out.status_code == 302 and "/anmelden" in signed_out.headers["Location"]
