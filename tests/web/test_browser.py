"""Lotse web in a real browser (Playwright driving Debian's chromium): a case manager logs in and searches
offers with the keyboard alone, and axe-core finds no WCAG 2.1 A/AA violation on any page of the journey,
error pages included. With LOTSE_SCREENSHOTS set to a folder, the pages are saved there as PNG (the web
service's README shows them)."""

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lotse_contracts import Role

from tests.notify.conftest import serving_receiver
from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import KI_EN, PASSWORD, WITTEN, add_user, no_violations, serve, signed_in
from tests.web.test_admin import remove_channel, webhook_channel
from tests.web.test_figures import declined
from tests.web.test_jurisdictions import authority  # noqa: F401 (a fixture)
from tests.web.test_maintain import maintained_offer


@pytest.fixture
def site(web_app: Flask) -> Iterator[str]:
    yield from serve(web_app)


def _signed_in(browser: Any, site: str, login: str, target: str) -> Any:
    """A new page, ``login`` signed in through the login page, which then leads on to ``target``."""
    page = browser.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
    page.goto(f"{site}/anmelden?weiter={target}")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")
    return page


def test_a_case_manager_logs_in_and_searches_with_the_keyboard_alone(browser: Any, site: str) -> None:
    page = browser.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
    page.goto(f"{site}/angebote")
    assert page.url.startswith(f"{site}/anmelden")
    no_violations(page, "anmelden")

    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Zum Inhalt springen"
    page.focus("#login")
    page.keyboard.type("cm.witten")
    page.keyboard.press("Tab")
    page.keyboard.type("falsch")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".lotse-error-summary").is_visible()
    assert "stimmen nicht" in page.inner_text(".lotse-error-summary")
    no_violations(page, "anmelden-fehler")

    page.focus("#password")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=f"{site}/angebote"):
        page.keyboard.press("Enter")
    no_violations(page, "suche-leer")

    page.focus("#q")
    page.keyboard.type("Deutschkurs")
    page.keyboard.press("Tab")
    page.keyboard.type("58453")
    page.keyboard.press("Enter")  # htmx puts the results into the page
    page.wait_for_url(re.compile(r"q=Deutschkurs.*ort=58453"))  # the search is in the address
    page.wait_for_selector("#ergebnisse")
    heading = page.inner_text("#ergebnisse")
    assert "Angebote im Umkreis von 10 km um 58453 Witten" in heading or "Angebot im Umkreis" in heading
    assert page.locator(".lotse-hit").count() >= 1
    no_violations(page, "suche-ergebnisse")
    results = page.url
    with page.expect_navigation():
        page.locator(".lotse-hit a.kern-link").first.click()
    assert "Öffnungszeiten" in page.inner_text("main")
    no_violations(page, "angebot")
    page.goto(results)

    page.fill("#ort", "Atlantis")
    page.press("#ort", "Enter")
    page.wait_for_selector(".lotse-error-summary")
    assert "kennen wir nicht" in page.inner_text(".lotse-error-summary")
    assert page.evaluate("document.activeElement.classList.contains('lotse-error-summary')")  # focus moved there
    no_violations(page, "suche-fehler")
    page.close()


def test_the_search_works_without_javascript(browser: Any, site: str) -> None:
    context = browser.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    page.goto(f"{site}/anmelden?weiter=/angebote")
    page.fill("#login", "cm.witten")
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=f"{site}/angebote"):
        page.press("#password", "Enter")
    page.fill("#q", "Deutschkurs")
    page.fill("#ort", "58453")
    with page.expect_navigation():
        page.press("#ort", "Enter")
    assert "q=Deutschkurs" in page.url and page.locator(".lotse-hit").count() >= 1
    with page.expect_navigation():
        page.locator(".lotse-search__filters input[name=sprache]").first.check()
        page.get_by_role("button", name="Suchen").click()
    assert "sprache=" in page.url
    context.close()


def test_a_filter_updates_the_results_in_place_and_keeps_the_focus_and_the_address(browser: Any, site: str) -> None:
    page = _signed_in(browser, site, "cm.witten", "/angebote?q=Deutschkurs%26ort=58453%26umkreis=25")
    page.evaluate("window.lotseMarker = 'same page'")
    before = page.locator(".lotse-hit").count()
    arabic = page.locator(".lotse-search__filters input[name=sprache][value=ar]")
    arabic.focus()
    with page.expect_response(lambda r: "sprache=ar" in r.url and r.request.headers.get("hx-request") == "true"):
        page.keyboard.press("Space")
    page.wait_for_function("document.querySelector('#suche-status').textContent.includes('gefunden')")
    assert page.evaluate("window.lotseMarker") == "same page"  # no page load: htmx swapped the part
    assert "sprache=ar" in page.url  # the address keeps the search
    assert page.evaluate("document.activeElement.getAttribute('value')") == "ar"  # the focus stays put
    assert page.locator(".lotse-search__filters input[name=sprache][value=ar]").is_checked()
    assert 1 <= page.locator(".lotse-hit").count() <= before
    no_violations(page, "suche-gefiltert")
    page.go_back()
    page.wait_for_url(lambda url: "sprache=ar" not in url)
    page.close()


def test_a_case_manager_asks_who_is_responsible_with_the_keyboard_alone(browser: Any, site: str) -> None:
    page = _signed_in(browser, site, "cm.witten", "/zustaendigkeit")
    assert page.url == f"{site}/zustaendigkeit"
    no_violations(page, "zustaendigkeit-leer")

    page.focus("#rechtskreis-SGB_VIII")
    page.keyboard.press("Space")
    page.focus("#ort")
    page.keyboard.type("32046")
    page.focus("#wohnsitz-parents")
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Nicht eindeutig" in page.inner_text("#antwort")
    assert page.locator(".lotse-hit").count() == 2
    no_violations(page, "zustaendigkeit-mehrdeutig")

    page.fill("#ort", "58453")
    with page.expect_navigation():
        page.press("#ort", "Enter")
    assert page.inner_text("#antwort") == "Zuständig ist: Jugendamt der Stadt Witten (Demo)"
    no_violations(page, "zustaendigkeit-antwort")
    page.close()


def test_an_agency_worker_opens_the_referral_and_acknowledges_it_with_the_keyboard_alone(
    browser: Any, site: str, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    page = _signed_in(browser, site, "ja.witten", f"/referrals/{referral}")  # where a notification's link leads
    assert page.url == f"{site}/referrals/{referral}"
    assert "Stand: neu" in page.inner_text("main")
    no_violations(page, "vermittlung-neu")
    page.get_by_role("button", name="Zur Kenntnis nehmen").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Die Vermittlung ist zur Kenntnis genommen." in page.inner_text("main")
    no_violations(page, "vermittlung-zur-kenntnis")
    page.goto(f"{site}/vermittlungen")
    no_violations(page, "eingang")
    page.select_option("#sortierung", "oldest")  # the list follows at once (htmx), the address with it
    page.wait_for_url(re.compile(r"sortierung=oldest"))
    page.wait_for_function("document.querySelector('#liste-status').textContent.includes('angezeigt')")
    assert "zuerst abgeschickt zuerst" in page.inner_text("caption")
    no_violations(page, "eingang-sortiert")
    page.close()


def _past_the_emergency_page(page: Any, name: str | None = None) -> None:
    """The page before a referral is written (§ 8a SGB VIII): read, and left by its button."""
    assert "nicht für Notfälle im Kinderschutz" in page.inner_text("h1")
    if name:
        no_violations(page, name)
    with page.expect_navigation():
        page.get_by_role("button", name="Es ist kein Notfall: weiter zur Vermittlung").click()


def _consented(page: Any, by: str = "client") -> None:
    """The consent questions: told all three things (SGB X § 67b Abs. 2), consented, by whom."""
    for told in ("purpose", "refusal", "withdrawal"):
        page.check(f"#informiert-{told}")
    page.check("#einwilligung-ja")
    page.check(f"#rolle-{by}")


def test_a_case_manager_sends_a_referral_and_every_question_page_is_accessible(browser: Any, site: str) -> None:
    page = _signed_in(browser, site, "cm.witten", "/zustaendigkeit?frage=1%26rechtskreis=SGB_II%26ort=58453")
    with page.expect_navigation():
        page.get_by_role("link", name="An Jobcenter Ennepe-Ruhr-Kreis (Demo) vermitteln").click()
    _past_the_emergency_page(page, "vermitteln-hinweis")
    no_violations(page, "vermitteln")
    with page.expect_navigation():
        page.get_by_role("button", name="Weiter zur Prüfung").click()
    assert "Es gibt ein Problem" in page.inner_text(".lotse-error-summary")
    no_violations(page, "vermitteln-fehler")
    page.fill("#name", "Amir Beispiel")
    page.fill("#anliegen", "Hilfe beim Antrag auf Bürgergeld")
    _consented(page)
    page.fill("#eingewilligt_von", "Amir Beispiel")
    page.check("#form-verbal_documented")
    with page.expect_navigation():
        page.get_by_role("button", name="Weiter zur Prüfung").click()
    assert "Prüfen Sie Ihre Angaben" in page.inner_text("h1")
    no_violations(page, "vermitteln-pruefen")
    with page.expect_navigation():
        page.get_by_role("button", name="Vermittlung abschicken").click()
    assert "Die Vermittlung ist abgeschickt." in page.inner_text("main")
    no_violations(page, "vermittlung-abgeschickt")
    page.close()


def test_a_no_to_the_consent_is_answered_by_keyboard_alone_and_its_page_is_accessible(browser: Any, site: str) -> None:
    page = _signed_in(
        browser, site, "cm.witten", "/zustaendigkeit?frage=1%26rechtskreis=SGB_VIII%26ort=58453%26wohnsitz=parents"
    )
    with page.expect_navigation():
        page.get_by_role("link", name=f"An {WITTEN} vermitteln").click()
    assert "Jugendamt der Stadt Witten (Demo)" in page.inner_text("main")  # whom to call in an emergency
    page.get_by_role("button", name="Es ist kein Notfall: weiter zur Vermittlung").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "§ 65 SGB VIII" in page.inner_text("main")
    page.locator("#einwilligung-nein").focus()
    page.keyboard.press("Space")
    assert page.is_checked("#einwilligung-nein")
    page.get_by_role("button", name="Weiter zur Prüfung").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Ohne Einwilligung wird nichts vermittelt" in page.inner_text("h1")
    no_violations(page, "vermitteln-ohne-einwilligung")
    page.close()


def test_leichte_sprache_and_the_accessibility_statement_are_accessible_signed_out(browser: Any, site: str) -> None:
    page = browser.new_page()
    page.goto(f"{site}/anmelden")
    with page.expect_navigation():
        page.get_by_role("link", name="Leichte Sprache").click()
    assert page.inner_text("h1") == "Lotse in Leichter Sprache"
    no_violations(page, "leichte-sprache")
    with page.expect_navigation():
        page.get_by_role("link", name="Barrierefreiheit").click()
    assert page.inner_text("h1") == "Erklärung zur Barrierefreiheit"
    no_violations(page, "barrierefreiheit")
    page.close()


def test_the_merkliste_is_kept_from_an_offer_page_shown_in_arabic_printed_and_downloaded(
    browser: Any, site: str
) -> None:
    page = _signed_in(browser, site, "cm.witten", "/angebote?q=Beratung%26ort=58453%26umkreis=25")
    with page.expect_navigation():
        page.locator(".lotse-hit a.kern-link").first.click()
    no_violations(page, "angebot")
    with page.expect_navigation():
        page.get_by_role("button", name="Auf die Merkliste").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Merkliste (1)").click()
    page.select_option("#sprache", "ar")
    with page.expect_navigation():
        page.get_by_role("button", name="Überschriften zeigen").click()
    assert "عروض لك" in page.inner_text("h2")
    no_violations(page, "merkliste")
    page.emulate_media(media="print")
    assert not page.locator(".lotse-header").is_visible() and page.locator(".lotse-merkliste").is_visible()
    folder = os.environ.get("LOTSE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / "merkliste-druck.png"), full_page=True)
    address = page.inner_text(".lotse-merkliste__address")
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("link", name="Merkliste als PDF herunterladen").press("Enter")
    assert download.value.suggested_filename == "merkliste.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
    page.close()
    phone = browser.new_page()  # where the QR code leads: no login
    phone.goto(address)
    assert phone.locator("h1").count() == 1 and not phone.locator(".lotse-staff").count()
    no_violations(phone, "angebot-oeffentlich")
    phone.close()


def test_the_client_s_sheet_prints_without_the_application_s_frame(browser: Any, site: str, referral: str) -> None:
    page = _signed_in(browser, site, "cm.witten", f"/referrals/{referral}/merkblatt")
    no_violations(page, "merkblatt")
    page.emulate_media(media="print")
    assert not page.locator(".lotse-header").is_visible() and not page.locator(".lotse-noprint").is_visible()
    assert page.locator(".lotse-sheet").is_visible()
    folder = os.environ.get("LOTSE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / "merkblatt-druck.png"), full_page=True)
    page.close()


def test_the_notification_settings_are_accessible(browser: Any, site: str, directory: Directory) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    page = _signed_in(browser, site, "ja.witten", "/einstellungen/benachrichtigungen")
    no_violations(page, "benachrichtigungen")
    page.check("#kind-webhook")
    page.fill("#target", "http://127.0.0.1:9/fachverfahren")
    with page.expect_navigation():
        page.get_by_role("button", name="Hinzufügen").click()
    assert "nur jetzt sichtbar" in page.inner_text("main")
    no_violations(page, "benachrichtigungen-schluessel")
    page.goto(f"{site}/einstellungen/benachrichtigungen")
    with page.expect_navigation():
        page.get_by_role("button", name="Testnachricht senden an http://127.0.0.1:9/fachverfahren").click()
    assert "Die Testnachricht ist nicht angekommen (keine Verbindung" in page.inner_text("main")
    no_violations(page, "benachrichtigungen-test")
    page.close()


def _send_from_the_answer(page: Any, site: str, client: str) -> str:
    """The case manager asks who is responsible for a family in Witten and sends the referral there; the
    referral's address."""
    page.goto(f"{site}/zustaendigkeit")
    page.check("#rechtskreis-SGB_VIII")
    page.fill("#ort", "58453")
    page.check("#wohnsitz-parents")
    with page.expect_navigation():
        page.press("#ort", "Enter")
    with page.expect_navigation():
        page.get_by_role("link", name=f"An {WITTEN} vermitteln").click()
    _past_the_emergency_page(page)
    page.fill("#name", client)
    page.fill("#anliegen", "Beratung zu Hilfen zur Erziehung")
    _consented(page)
    page.fill("#eingewilligt_von", client)
    page.check("#form-written")
    page.check("#weitergabe")
    with page.expect_navigation():
        page.get_by_role("button", name="Weiter zur Prüfung").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Vermittlung abschicken").click()
    assert "Die Vermittlung ist abgeschickt." in page.inner_text("main")
    return str(page.url)


def test_journey_search_responsible_referral_then_the_agency_declines_and_the_case_manager_sees_why(
    browser: Any, site: str, directory: Directory
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    case_manager = _signed_in(browser, site, "cm.witten", "/angebote?q=Beratung%26ort=58453%26umkreis=25")
    assert case_manager.locator(".lotse-hit").count() >= 1  # first, what is there near the family
    address = _send_from_the_answer(case_manager, site, "Leyla Beispiel")
    referral = address.rsplit("/", 1)[1]

    agency = _signed_in(browser, site, "ja.witten", "/vermittlungen?sortierung=newest")
    row = agency.locator("tr", has=agency.locator(f'a[href="/referrals/{referral}"]'))
    for _ in range(50):  # notify reads routing's feed every 0.2 s
        if "ungelesen" in row.inner_text():
            break
        time.sleep(0.2)
        agency.reload()
    assert "ungelesen" in row.inner_text()
    with agency.expect_navigation():
        row.get_by_role("link").click()
    assert "Leyla Beispiel" in agency.inner_text("main")
    with agency.expect_navigation():
        agency.get_by_role("button", name="Zur Kenntnis nehmen").click()
    agency.select_option("#reason_code", "sonstiges")
    with agency.expect_navigation():
        agency.get_by_role("button", name="Ablehnen").click()
    assert "kurz, warum Sie ablehnen" in agency.inner_text("main")  # "sonstiges" needs a few words
    agency.select_option("#reason_code", "sonstiges")
    agency.fill("#note-decline", "Familie ist bereits bei uns angebunden.")
    with agency.expect_navigation():
        agency.get_by_role("button", name="Ablehnen").click()
    assert "Die Vermittlung ist abgelehnt." in agency.inner_text("main")
    no_violations(agency, "vermittlung-abgelehnt")

    case_manager.goto(address)
    shown = case_manager.inner_text("main")
    assert "Stand: abgelehnt" in shown and "Familie ist bereits bei uns angebunden." in shown
    case_manager.goto(f"{site}/vermittlungen?status=declined")
    assert case_manager.locator(f'a[href="/referrals/{referral}"]').count() == 1
    case_manager.close()
    agency.close()


def test_journey_the_agency_forwards_to_the_body_responsible_where_the_family_lives(
    browser: Any, site: str, directory: Directory
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    case_manager = _signed_in(browser, site, "cm.witten", "/zustaendigkeit")
    address = _send_from_the_answer(case_manager, site, "Omar Beispiel")
    agency = _signed_in(browser, site, "ja.witten", address.removeprefix(site))
    with agency.expect_navigation():
        agency.get_by_role("link", name="Nicht zuständig? An die zuständige Stelle weiterleiten").click()
    agency.fill("#ort", "32049 Herford")
    with agency.expect_navigation():
        agency.press("#ort", "Enter")
    no_violations(agency, "weiterleiten")
    agency.locator("input[name=stelle]").first.check()
    with agency.expect_navigation():
        agency.get_by_role("button", name="Weiterleiten").click()
    assert "Stand: weitergeleitet" in agency.inner_text("main")

    case_manager.goto(address)
    assert "Stand: weitergeleitet" in case_manager.inner_text("main")
    assert "weitergeleitet" in case_manager.inner_text("main")
    case_manager.close()
    agency.close()


def test_another_organisation_s_referral_is_not_reachable_and_logout_ends_the_session(
    browser: Any, site: str, directory: Directory, referral: str
) -> None:
    add_user(directory, "ja.bochum", "Bea B.", Role.AGENCY, "Jugendamt der Stadt Bochum (Demo)")
    page = _signed_in(browser, site, "ja.bochum", f"/referrals/{referral}")
    assert "Nicht gefunden" in page.inner_text("h1") and "Samira" not in page.content()
    no_violations(page, "nicht-gefunden")
    with page.expect_navigation():
        page.get_by_role("button", name="Abmelden").click()
    assert "Sie haben sich abgemeldet." in page.inner_text("main")
    page.goto(f"{site}/vermittlungen")
    assert page.url.startswith(f"{site}/anmelden")
    page.close()


def test_the_question_page_for_an_offer_is_accessible(browser: Any, site: str) -> None:
    page = _signed_in(browser, site, "cm.witten", "/angebote?q=Deutschkurs%26ort=58453%26umkreis=25")
    with page.expect_navigation():
        page.locator(".lotse-hit a.kern-link").first.click()
    with page.expect_navigation():
        page.get_by_role("link", name="An dieses Angebot vermitteln").click()
    _past_the_emergency_page(page)
    no_violations(page, "vermitteln-angebot")
    with page.expect_navigation():
        page.get_by_role("button", name="Weiter zur Prüfung").click()
    assert "Geben Sie den Wohnort der Person ein" in page.inner_text(".lotse-error-summary")
    no_violations(page, "vermitteln-angebot-fehler")
    page.close()


def test_journey_a_maintainer_changes_opening_hours_and_a_case_manager_s_search_shows_them(
    browser: Any, site: str, directory: Directory
) -> None:
    org, _, offer_name = maintained_offer(directory)
    add_user(directory, "pflege.browser", "Mara P.", Role.MAINTAINER, org)
    page = _signed_in(browser, site, "pflege.browser", "/pflege")
    assert offer_name in page.inner_text("#angebote ~ ul"), page.inner_text("main")
    no_violations(page, "pflege")
    with page.expect_navigation():
        page.locator("a[href$='/oeffnungszeiten']").click()
    no_violations(page, "pflege-oeffnungszeiten")

    for day in ("TU", "WE", "TH", "FR"):  # Monday 09:00 to 12:00 was there; now every weekday, with a break
        page.check(f"#tag-0-{day}")
    page.fill("#bis_0", "12:30")
    for day in ("MO", "TU", "WE", "TH", "FR"):
        page.check(f"#tag-1-{day}")
    page.fill("#von_1", "13:30")
    page.fill("#bis_1", "13:00")  # before it opens: the page says so
    with page.expect_navigation():
        page.get_by_role("button", name="Speichern", exact=True).click()
    assert page.locator(".lotse-error-summary").is_visible()
    assert "Die Schließzeit muss nach der Öffnungszeit liegen." in page.inner_text(".lotse-error-summary")
    no_violations(page, "pflege-oeffnungszeiten-fehler")
    page.fill("#bis_1", "16:00")
    page.check("#nach_vereinbarung")
    with page.expect_navigation():
        page.get_by_role("button", name="Vorschau aktualisieren").click()
    assert "Dienstag: 09:00 bis 12:30 und 13:30 bis 16:00 Uhr" in page.inner_text(".lotse-preview")
    with page.expect_navigation():
        page.press("#bis_1", "Enter")  # Enter in a field saves (not "add a range", the first visible button)
    assert "Die Öffnungszeiten sind gespeichert." in page.inner_text("main")

    with page.expect_navigation():
        page.get_by_role("link", name=offer_name).click()
    no_violations(page, "pflege-angebot")
    page.close()

    search = _signed_in(browser, site, "cm.witten", f"/angebote?q={offer_name.replace(' ', '+')}")
    search.wait_for_selector(".lotse-hit")
    assert "09:00 bis 12:30 und 13:30 bis 16:00 Uhr" in search.inner_text(".lotse-hit") or "nach Vereinbarung" in (
        search.inner_text(".lotse-hit")
    )
    search.close()


def test_a_concurrent_edit_is_settled_in_the_browser(browser: Any, site: str, directory: Directory) -> None:
    org, offer, _ = maintained_offer(directory)
    add_user(directory, "pflege.eins", "Mara P.", Role.MAINTAINER, org)
    add_user(directory, "pflege.zwei", "Paul Z.", Role.MAINTAINER, org)
    first = _signed_in(browser, site, "pflege.eins", f"/pflege/angebote/{offer}")
    second = _signed_in(browser, site, "pflege.zwei", f"/pflege/angebote/{offer}")
    second.fill("#wait_time", "etwa drei Wochen")
    with second.expect_navigation():
        second.get_by_role("button", name="Speichern", exact=True).click()
    second.close()

    first.fill("#wait_time", "keine")
    with first.expect_navigation():
        first.get_by_role("button", name="Speichern", exact=True).click()
    assert "Jemand hat das Angebot inzwischen geändert" in first.inner_text("main")
    no_violations(first, "pflege-konflikt")
    first.check("#wahl_wait_time-gespeichert")
    with first.expect_navigation():
        first.get_by_role("button", name="Speichern", exact=True).click()
    assert "Die Änderungen sind gespeichert." in first.inner_text("main")
    assert first.input_value("#wait_time") == "etwa drei Wochen"
    first.close()


def test_journey_an_agency_declines_and_the_coordinator_sees_it_in_the_figures(
    browser: Any, site: str, directory: Directory, routing_url: str, make_referral: Any
) -> None:
    for _ in range(4):  # four declined before; the fifth lifts the count over the small-cell threshold
        declined(directory, routing_url, make_referral(), "duplikat")
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    add_user(directory, "ko.browser", "Kora K.", Role.COORDINATOR, WITTEN)
    coordinator = _signed_in(browser, site, "ko.browser", "/zahlen?region=Witten")
    before = coordinator.inner_text("#titel-ablehnungen + svg + .kern-table-responsive")
    assert "Duplikat\tunter 5" in before, before

    referral = make_referral()
    agency = _signed_in(browser, site, "ja.witten", f"/referrals/{referral}")
    agency.select_option("#reason_code", "duplikat")
    with agency.expect_navigation():
        agency.get_by_role("button", name="Ablehnen").click()
    assert "Die Vermittlung ist abgelehnt." in agency.inner_text("main")
    agency.close()

    coordinator.reload()
    after = coordinator.inner_text("#titel-ablehnungen + svg + .kern-table-responsive")
    assert "Duplikat\t5" in after, after
    no_violations(coordinator, "zahlen")
    coordinator.close()


def test_journey_an_admin_re_drives_a_dead_delivery(
    browser: Any, site: str, web_app: Flask, directory: Directory, make_referral: Any
) -> None:
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    add_user(directory, "admin.browser", "Ada A.", Role.ADMIN, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    with serving_receiver() as receiver:
        receiver.answers = [410]
        channel = webhook_channel(agency, f"{receiver.url}/browser")
        try:
            referral = make_referral()
            page = _signed_in(browser, site, "admin.browser", "/verwaltung/zustellungen")
            deadline = time.monotonic() + 90  # notify hears routing's feed every 0.2 s, then delivers: far
            while not page.locator(f'a[href="/referrals/{referral}"]').count():  # slower in a busy run
                if time.monotonic() > deadline:
                    break
                time.sleep(0.3)
                page.reload()
            assert page.locator(f'a[href="/referrals/{referral}"]').count(), "the dead delivery is not listed"
            no_violations(page, "verwaltung-zustellungen")
            row = page.locator("tr", has=page.locator(f'a[href="/referrals/{referral}"]'))
            before = len(receiver.requests)
            with page.expect_navigation():
                row.get_by_role("button").click()
            assert "Die Zustellung wird erneut versucht." in page.inner_text("main")
            for _ in range(75):
                if len(receiver.requests) > before:
                    break
                time.sleep(0.2)
            assert receiver.requests[-1].status == 200
            page.goto(f"{site}/verwaltung")
            no_violations(page, "verwaltung")
            page.fill("#vermittlung", referral)
            with page.expect_navigation():
                page.press("#vermittlung", "Enter")
            assert "Protokoll einer Vermittlung" in page.inner_text("h1")
            no_violations(page, "verwaltung-protokoll")
            page.close()
        finally:
            remove_channel(agency, channel)


def test_a_maintainer_changes_a_jurisdiction_and_who_is_responsible_shows_it(
    browser: Any,
    site: str,
    directory: Directory,
    authority: str,  # noqa: F811 (the fixture)
) -> None:
    add_user(directory, "kim.browser", "Kai E.", Role.MAINTAINER, KI_EN, regions=("05954", "02"))
    page = _signed_in(browser, site, "kim.browser", "/pflege/zustaendigkeiten")
    no_violations(page, "zustaendigkeiten")
    page.select_option("#rechtskreis", "STAG")
    page.select_option("#stelle", label=authority)
    page.fill("#region", "Witten")
    with page.expect_navigation():
        page.get_by_role("button", name="Vorschau").click()
    assert page.locator(".lotse-preview").count() == 1, page.inner_text("main")[:2000]
    assert "Heute zuständig: Einbürgerungsbehörde Ennepe-Ruhr-Kreis (Demo)" in page.inner_text(".lotse-preview")
    no_violations(page, "zustaendigkeiten-vorschau")

    page.fill("#region", "Hamburg")  # where nobody is responsible: it holds at once
    page.fill("#quelle", "Senatsbeschluss (Test)")
    with page.expect_navigation():
        page.get_by_role("button", name="Speichern").click()
    assert f"{authority} ist jetzt zuständig" in page.inner_text("main")
    with page.expect_navigation():
        page.locator(f"tr:has-text('{authority}') a:has-text('Ändern')").click()
    no_violations(page, "zustaendigkeit-aendern")
    page.fill("#plz", "20095")
    with page.expect_navigation():
        page.get_by_role("button", name="Speichern").click()
    assert "Die Zuständigkeit ist geändert" in page.inner_text("main")
    page.close()

    asks = _signed_in(browser, site, "cm.witten", "/zustaendigkeit")
    deadline = time.monotonic() + 10  # routing reads the directory again after its cache's second
    for place, named in (("22767", False), ("20095", True)):
        while True:
            asks.goto(f"{site}/zustaendigkeit")
            asks.check("#rechtskreis-STAG")
            asks.fill("#ort", place)
            with asks.expect_navigation():
                asks.get_by_role("button", name="Zuständige Stelle finden").click()
            if (authority in asks.inner_text("main")) == named:
                break
            assert time.monotonic() < deadline, asks.inner_text("main")[:2000]
            time.sleep(0.3)
    asks.close()


def test_an_import_with_a_bad_row_reports_it_in_place_and_is_accessible(
    browser: Any, site: str, directory: Directory, tmp_path: Path
) -> None:
    org, _, _ = maintained_offer(directory)
    add_user(directory, "pflege.import", "Mara P.", Role.MAINTAINER, org)
    page = _signed_in(browser, site, "pflege.import", "/pflege/import")
    no_violations(page, "pflege-import")
    bad = tmp_path / "verzeichnis.json"
    bad.write_text('[{"id": "8a0c8a7e-7a11-4a3b-9d3e-0c1f8f1d1a09", "name": "Ohne Beschreibung"}]')
    page.set_input_files("#datei", str(bad))
    page.get_by_role("button", name="Hochladen und übernehmen").click()  # htmx sends it and puts the answer in place
    page.wait_for_selector("#probleme-titel")
    shown = page.inner_text("#import")
    assert "Nichts wurde übernommen" in shown and "[0].description" in shown and "fehlt (Pflichtangabe)" in shown
    assert page.evaluate("document.activeElement.classList.contains('lotse-error-summary')")
    no_violations(page, "pflege-import-fehler")
    page.close()


def test_a_maintainer_adds_a_place_and_an_offer_there_and_the_pages_are_accessible(
    browser: Any, site: str, directory: Directory
) -> None:
    home = f"KI Browser {os.urandom(3).hex()}"
    directory.container.entries.create(ADMIN, "organization", {"name": home, "description": "Koordination"})
    add_user(directory, "pflege.orte", "Olga O.", Role.MAINTAINER, home)
    page = _signed_in(browser, site, "pflege.orte", f"/pflege/organisationen/{directory.org_named(home)}")
    no_violations(page, "pflege-organisation")
    with page.expect_navigation():
        page.get_by_role("link", name="Neuen Ort anlegen").click()
    page.fill("#name", "Beratungsstelle Stockum")
    page.fill("#address_1", "Stockumer Straße 5")
    page.fill("#postal_code", "5845")
    page.fill("#city", "Witten")
    page.check("#phone_visibility-case_managers")
    page.fill("#phone", "02302 9876-0")
    with page.expect_navigation():
        page.get_by_role("button", name="Speichern").click()
    assert "Diese Postleitzahl kennen wir nicht" in page.inner_text(".lotse-error-summary")
    no_violations(page, "pflege-ort-fehler")
    page.fill("#postal_code", "58454")
    with page.expect_navigation():
        page.press("#postal_code", "Enter")
    assert "Der Ort ist gespeichert." in page.inner_text("main")
    assert "Stockumer Straße 5, 58454 Witten" in page.inner_text("#orte ~ ul")
    with page.expect_navigation():
        page.get_by_role("link", name="Neues Angebot anlegen").click()
    page.fill("#name", "Sprachcafé Stockum")
    page.check("text=Beratungsstelle Stockum")
    no_violations(page, "pflege-neues-angebot")
    with page.expect_navigation():
        page.get_by_role("button", name="Anlegen").click()
    assert page.inner_text("h1") == "Sprachcafé Stockum"
    with page.expect_navigation():
        page.get_by_role("link", name="Themen, Zielgruppen, Sprachen und Orte").click()
    page.get_by_label("Sprache", exact=True).check()
    page.get_by_label("Ukrainisch").check()
    no_violations(page, "pflege-einordnung")
    with page.expect_navigation():
        page.get_by_role("button", name="Speichern").click()
    assert "sind gespeichert" in page.inner_text("main")
    assert page.is_checked("#sprache-uk") and page.get_by_label("Beratungsstelle Stockum").is_checked()
    page.close()


def test_a_provider_confirms_an_offer_through_its_link_and_the_pages_are_accessible(
    browser: Any, site: str, directory: Directory
) -> None:
    org, offer, name = maintained_offer(directory)
    add_user(directory, "pflege.anbieter", "Paul P.", Role.MAINTAINER, org)
    page = _signed_in(browser, site, "pflege.anbieter", f"/pflege/alle-angaben/services/{offer}")
    no_violations(page, "pflege-alle-angaben")
    page.goto(f"{site}/pflege/alle-angaben/required_documents/neu?feld=service_id&zu={offer}")
    no_violations(page, "pflege-alle-angaben-neu")
    page.goto(f"{site}/pflege/organisationen")
    no_violations(page, "pflege-organisationen")
    page.goto(f"{site}/pflege/angebote/{offer}")
    with page.expect_navigation():
        page.get_by_role("button", name="Link für den Anbieter erstellen").click()
    no_violations(page, "pflege-bestaetigungslink")
    link = page.input_value("#link")
    page.close()

    provider = browser.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})  # no account
    provider.goto(link)
    assert provider.inner_text("h1") == name
    no_violations(provider, "anbieter-bestaetigen")
    with provider.expect_navigation():
        provider.get_by_role("button", name="Ja, alles stimmt").click()
    assert "Vielen Dank für Ihre Antwort" in provider.inner_text("main")
    no_violations(provider, "anbieter-bestaetigt")
    provider.close()


def test_an_admin_invites_a_person_who_chooses_a_password_and_the_pages_are_accessible(
    browser: Any, site: str, directory: Directory
) -> None:
    add_user(directory, "admin.einladen", "Ada E.", Role.ADMIN, WITTEN)
    page = _signed_in(browser, site, "admin.einladen", "/verwaltung/benutzer")
    no_violations(page, "verwaltung-benutzer")
    with page.expect_navigation():
        page.get_by_role("link", name="Person einladen").click()
    login = f"gast.{os.urandom(3).hex()}"
    page.fill("#login", login)
    page.fill("#name", "Gabi G.")
    page.check("#rolle-case_manager")
    page.fill("#organisation", KI_EN)
    no_violations(page, "verwaltung-einladen")
    with page.expect_navigation():
        page.get_by_role("button", name="Einladen").click()
    no_violations(page, "verwaltung-einladung")
    link = page.input_value("#link")
    page.close()

    person = browser.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
    person.goto(link)
    no_violations(person, "passwort-festlegen")
    person.fill("#passwort", "Gabis langes Passwort")
    person.fill("#wiederholung", "Gabis langes Passwort")
    with person.expect_navigation():
        person.press("#wiederholung", "Enter")
    assert "Ihr Passwort ist gespeichert" in person.inner_text("main")
    person.fill("#login", login)
    person.fill("#password", "Gabis langes Passwort")
    with person.expect_navigation():
        person.press("#password", "Enter")
    assert "Gabi G." in person.inner_text("header")
    person.close()


def test_journey_an_admin_answers_a_subject_access_request_and_erases_on_request_by_keyboard(
    browser: Any, site: str, directory: Directory, make_referral: Any, routing_url: str
) -> None:
    from tests.web.test_subject_access import _decline

    family = f"Browserfall-{uuid.uuid4().hex[:6]}"
    closed = make_referral({"name": f"Leyla {family}", "birth_date": "1979-11-02"})
    make_referral({"name": f"Leyla {family}", "birth_date": "1979-11-02"})
    _decline(directory, routing_url, closed)
    add_user(directory, "admin.auskunft", "Ada A.", Role.ADMIN, WITTEN)
    page = _signed_in(browser, site, "admin.auskunft", "/verwaltung")
    with page.expect_navigation():
        page.get_by_role("link", name="Auskunft und Löschung").click()
    no_violations(page, "auskunft")
    with page.expect_navigation():
        page.get_by_role("button", name="Suchen").click()
    assert page.locator(".lotse-error-summary").is_visible()
    no_violations(page, "auskunft-fehler")
    page.focus("#name")  # from here on the keyboard alone
    page.keyboard.type(f"leyla {family.lower()}")
    page.keyboard.press("Tab")
    page.keyboard.type("02.11.1979")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "2 Vermittlungen" in page.inner_text("main")
    no_violations(page, "auskunft-ergebnis")
    with page.expect_download() as download:
        page.get_by_role("button", name="Alles als Datei herunterladen (JSON)").press("Enter")
    assert download.value.suggested_filename.startswith("auskunft-art-15-dsgvo-")
    page.locator(f"#vermittlung-{closed}").press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.is_checked(f"#vermittlung-{closed}") and page.is_checked("#bestaetigt")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Die Daten der Person aus einer Vermittlung sind gelöscht." in page.inner_text("main")
    no_violations(page, "auskunft-geloescht")
    folder = os.environ.get("LOTSE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / "auskunft.png"), full_page=True)
    page.close()
