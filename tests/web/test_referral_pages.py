"""Referrals in the browser application over the real routing and directory: the agency's incoming list and
the referral page (the page notifications link to), its steps as forms with CSRF, the case manager seeing the
change and the timeline, and another organisation not reaching the referral by its address."""

import re

from flask import Flask
from lotse_contracts import Role

from tests.notify.conftest import wait_for
from tests.routing.conftest import Directory
from tests.web.conftest import KI_EN, WITTEN, add_user, csrf, signed_in


def test_the_agency_sees_the_referral_and_takes_its_steps_and_the_case_manager_sees_them(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    listing = agency.get("/vermittlungen?status=requested").get_data(as_text=True)
    assert '<h1 class="kern-heading-large">Eingang</h1>' in listing and f"/referrals/{referral}" in listing
    page = agency.get(f"/referrals/{referral}").get_data(as_text=True)
    assert "Stand: <strong>neu</strong>" in page and "Samira Beispiel, geboren am 01.04.1990" in page
    assert "Beratung zu Hilfen zur Erziehung" in page and "Warum diese Stelle?" in page
    assert "Zur Kenntnis nehmen" in page and "Annehmen" in page and "Grund der Ablehnung" in page

    assert agency.post(f"/referrals/{referral}/acknowledge", data={}).status_code == 400  # CSRF
    done = agency.post(f"/referrals/{referral}/acknowledge", data={"csrf_token": csrf(page)})
    assert done.status_code == 302
    page = agency.get(f"/referrals/{referral}").get_data(as_text=True)
    assert (
        "Die Vermittlung ist zur Kenntnis genommen." in page and "Stand: <strong>zur Kenntnis genommen</strong>" in page
    )
    sonstiges = agency.post(
        f"/referrals/{referral}/decline", data={"csrf_token": csrf(page), "reason_code": "sonstiges"}
    )
    assert "Bitte schreiben Sie bei „sonstiges“" in agency.get(sonstiges.headers["Location"]).get_data(as_text=True)
    agency.post(f"/referrals/{referral}/accept", data={"csrf_token": csrf(page)})
    stale = agency.post(f"/referrals/{referral}/acknowledge", data={"csrf_token": csrf(page)})  # an old page's form
    assert "Das ging nicht" in agency.get(stale.headers["Location"]).get_data(as_text=True)

    add_user(directory, "cm.witten", "Clara M.", Role.CASE_MANAGER, KI_EN)
    case_manager = signed_in(web_app, "cm.witten")
    seen = case_manager.get(f"/referrals/{referral}").get_data(as_text=True)
    assert "Stand: <strong>angenommen</strong>" in seen
    timeline = re.findall(r"– (Absender|Empfänger|System): ([^<]+)</li>", seen)
    assert [step for _, step in timeline][:4] == ["angelegt", "abgeschickt", "zur Kenntnis genommen", "angenommen"]
    assert "Zur Kenntnis nehmen" not in seen and "Annehmen" not in seen  # the recipient's steps are not the sender's
    mine = case_manager.get("/vermittlungen").get_data(as_text=True)
    assert "Meine Vermittlungen" in mine and f"/referrals/{referral}" in mine


def test_another_organisation_does_not_reach_the_referral_by_its_address(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.herford", "Hanna H.", Role.AGENCY, "Jugendamt Kreis Herford (Demo)")
    other = signed_in(web_app, "ja.herford")
    answer = other.get(f"/referrals/{referral}")
    assert answer.status_code == 404 and "Nicht gefunden" in answer.get_data(as_text=True)
    page = other.get("/vermittlungen").get_data(as_text=True)
    assert referral not in page
    step = other.post(f"/referrals/{referral}/accept", data={"csrf_token": csrf(page)})
    assert step.status_code == 404
    assert other.get("/referrals/kein-uuid").status_code == 404


def test_the_sender_withdraws_the_consent_after_confirming_and_its_referrals_are_cancelled(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "cm.witten", "Clara M.", Role.CASE_MANAGER, KI_EN)
    client = signed_in(web_app, "cm.witten")
    page = client.get(f"/referrals/{referral}").get_data(as_text=True)
    assert "Zurückziehen" in page and "Die Person hat ihre Einwilligung widerrufen" in page
    confirm = client.get(f"/referrals/{referral}/einwilligung-widerrufen").get_data(as_text=True)
    assert "Einwilligung widerrufen?" in confirm and "Jugendamt der Stadt Witten (Demo)" in confirm
    assert "Stand: <strong>neu</strong>" in client.get(f"/referrals/{referral}").get_data(as_text=True)  # not yet
    done = client.post(f"/referrals/{referral}/einwilligung-widerrufen", data={"csrf_token": csrf(confirm)})
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Die Einwilligung ist widerrufen. Eine Vermittlung wurde zurückgezogen." in after
    assert "Stand: <strong>zurückgezogen</strong>" in after and "widerrufen am" in after
    assert "Die Person hat ihre Einwilligung widerrufen" not in after  # once


def test_the_sender_cancels_with_a_reason(web_app: Flask, directory: Directory, referral: str) -> None:
    add_user(directory, "cm.witten", "Clara M.", Role.CASE_MANAGER, KI_EN)
    client = signed_in(web_app, "cm.witten")
    page = client.get(f"/referrals/{referral}").get_data(as_text=True)
    no_reason = client.post(f"/referrals/{referral}/cancel", data={"csrf_token": csrf(page)})
    assert "warum Sie die Vermittlung zurückziehen" in client.get(no_reason.headers["Location"]).get_data(as_text=True)
    client.post(f"/referrals/{referral}/cancel", data={"csrf_token": csrf(page), "reason_code": "client_moved"})
    after = client.get(f"/referrals/{referral}").get_data(as_text=True)
    assert "Stand: <strong>zurückgezogen</strong>" in after and "zurückgezogen (" in after


def test_the_agency_forwards_to_the_body_responsible_where_the_family_really_lives(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    here = agency.get(f"/referrals/{referral}/weiterleiten").get_data(as_text=True)
    assert "keine andere Stelle eingetragen" in here  # Witten's own Jugendamt is the only one for 58453
    there = agency.get(f"/referrals/{referral}/weiterleiten?ort=32049+Herford").get_data(as_text=True)
    options = re.findall(r'name="stelle" value="([^"]+)">\s*<label class="kern-label" for="[^"]+">([^<]+)', there)
    assert options and all(name.strip() != WITTEN for _, name in options), options
    wrong = agency.post(f"/referrals/{referral}/weiterleiten", data={"csrf_token": csrf(there), "ort": "32049 Herford"})
    assert wrong.status_code == 400 and "Wählen Sie die Stelle" in wrong.get_data(as_text=True)
    chosen, name = options[0]
    done = agency.post(
        f"/referrals/{referral}/weiterleiten",
        data={"csrf_token": csrf(there), "ort": "32049 Herford", "stelle": chosen},
    )
    page = agency.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Die Vermittlung ist an {name.strip()} weitergeleitet" in page and "sobald die absendende" in page
    assert "Stand: <strong>weitergeleitet</strong>" in page


def test_the_client_s_sheet_says_where_to_go_when_it_is_open_and_what_to_bring(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "cm.witten", "Clara M.", Role.CASE_MANAGER, KI_EN)
    client = signed_in(web_app, "cm.witten")
    assert f"/referrals/{referral}/merkblatt" in client.get(f"/referrals/{referral}").get_data(as_text=True)
    sheet = client.get(f"/referrals/{referral}/merkblatt").get_data(as_text=True)
    assert "Ihre nächste Stelle: Jugendamt der Stadt Witten (Demo)" in sheet
    assert "Wann ist geöffnet?" in sheet and "08:00–12:00" in sheet
    assert "Geburtsurkunde oder Ausweis des Kindes" in sheet and "jederzeit widerrufen" in sheet
    assert "Samira" not in sheet  # the sheet names the office, not the client: it may lie on a desk


def test_the_list_says_until_when_an_acknowledgement_is_due(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "cm.witten", "Clara M.", Role.CASE_MANAGER, KI_EN)
    listing = signed_in(web_app, "cm.witten").get("/vermittlungen").get_data(as_text=True)
    row = listing[listing.index(f"/referrals/{referral}") - 1500 : listing.index(f"/referrals/{referral}")]
    assert "Kenntnisnahme bis" in row and "überfällig" not in row  # sent a moment ago: three working days remain


def test_the_list_counts_the_referrals_in_each_state(web_app: Flask, directory: Directory, referral: str) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    listing = signed_in(web_app, "ja.witten").get("/vermittlungen?status=requested").get_data(as_text=True)
    counts = dict(re.findall(r'<option value="(\w*)"(?: selected)?>[^<(]+\((\d+)\)</option>', listing))
    states = [int(v) for k, v in counts.items() if k and k != "ueberfaellig"]
    assert int(counts["requested"]) >= 1 and int(counts[""]) == sum(states)
    assert 'value="requested" selected' in listing


def test_the_inbox_marks_what_nobody_of_the_organisation_has_opened_yet(
    web_app: Flask, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")

    def row() -> str:
        listing = agency.get("/vermittlungen?sortierung=newest").get_data(as_text=True)
        at = listing.index(f"/referrals/{referral}")
        return listing[listing.rindex("<tr", 0, at) : at]

    wait_for(lambda: "ungelesen" in row(), 10, "notify's inbox has the new referral")
    assert agency.get(f"/referrals/{referral}").status_code == 200
    assert "ungelesen" not in row()  # opened: read, for everyone of the organisation
