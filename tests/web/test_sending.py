"""Sending a referral in the browser application: from "Wer ist zuständig?" past the page that says Lotse is
not for a child-welfare emergency, to the question page, the check page and the referral's page; the consent
has to cover every piece of data given, with the client told what SGB X § 67b Abs. 2 asks, and a child under
15 does not consent alone; a "no" stores nothing; a body routing does not name cannot be chosen; only case
managers send."""

import html
import re

from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role

from tests.routing.conftest import Directory
from tests.web.conftest import WITTEN, add_user, signed_in


def _form(page: str) -> dict[str, str]:
    """The hidden fields of the page's form."""
    return {
        name: html.unescape(value) for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


TOLD = {"informiert": ["purpose", "refusal", "withdrawal"], "einwilligung": "ja"}
"""The consent questions answered: the client was told all three things, and consented."""


def _question_page(client: FlaskClient, link: str) -> str:
    """The question page a link to "Vermitteln" leads to, past the page before it (§ 8a SGB VIII)."""
    interrupt = client.get(html.unescape(link))
    text = interrupt.get_data(as_text=True)
    assert interrupt.status_code == 200 and "nicht für Notfälle im Kinderschutz" in text and "Polizei 110" in text
    hidden = _form(text)
    assert hidden.pop("hinweis") == "gelesen"
    return client.get("/vermitteln", query_string={**hidden, "hinweis": "gelesen"}).get_data(as_text=True)


def test_a_case_manager_sends_a_referral_from_the_answer_through_the_check_page(
    web_app: Flask, directory: Directory
) -> None:
    client = signed_in(web_app, "cm.witten")
    answer = client.get("/zustaendigkeit?frage=1&rechtskreis=SGB_VIII&ort=58453&wohnsitz=parents").get_data(
        as_text=True
    )
    [link] = re.findall(r'href="(/vermitteln\?[^"]+)">An Jugendamt der Stadt Witten \(Demo\) vermitteln', answer)
    interrupt = client.get(html.unescape(link)).get_data(as_text=True)
    assert "das Jugendamt für 58453: Jugendamt der Stadt Witten (Demo)" in interrupt  # whom to call, by place
    form_page = _question_page(client, link)
    assert "Vermitteln an Jugendamt der Stadt Witten (Demo)" in form_page and "§ 67b Abs. 2 SGB X" in form_page
    assert "§ 65 SGB VIII" in form_page  # to a Jugendamt
    hidden = _form(form_page)

    empty = client.post("/vermitteln", data={**hidden, "schritt": "pruefen"})
    text = empty.get_data(as_text=True)
    assert empty.status_code == 400
    for field in ("name", "anliegen", "informiert", "einwilligung", "rolle", "eingewilligt_von", "form"):
        assert f'href="#{field}"' in text, field

    filled = {
        **hidden,
        "name": "Samira Beispiel",
        "geburtsdatum": "01.04.1990",
        "anliegen": "Beratung zu Hilfen zur Erziehung",
        "eingewilligt_von": "Samira Beispiel",
        "eingewilligt_am": "2026-12-01",
        "eingewilligt_um": "09:30",
        "form": "written",
        **TOLD,
        "rolle": "client",
        "daten": ["name", "reason"],
        "schritt": "pruefen",
    }
    untold = client.post("/vermitteln", data={**filled, "informiert": ["purpose", "withdrawal"]})
    assert untold.status_code == 400 and "über alle drei Punkte" in untold.get_data(as_text=True)
    uncovered = client.post("/vermitteln", data=filled)
    assert uncovered.status_code == 400 and "umfassen, die Sie weitergeben: Geburtsdatum" in uncovered.get_data(
        as_text=True
    )

    check = client.post("/vermitteln", data={**filled, "daten": ["name", "birth_date", "reason"]})
    page = check.get_data(as_text=True)
    assert check.status_code == 200 and "Prüfen Sie Ihre Angaben" in page and "Samira Beispiel" in page
    assert "von Samira Beispiel (die Person selbst)" in page and "was geschieht, wenn sie nicht einwilligt" in page
    assert "geboren am 01.04.1990" in page and "am 01.12.2026 um 09:30 Uhr" in page  # German days, as typed or not
    final = _form(page)
    sent = client.post(
        "/vermitteln",
        data={
            **final,
            "daten": ["name", "birth_date", "reason"],
            "informiert": TOLD["informiert"],
            "schritt": "senden",
        },
    )
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/referrals/")
    shown = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Die Vermittlung ist abgeschickt. Jugendamt der Stadt Witten (Demo) wird jetzt benachrichtigt." in shown
    assert "Stand: <strong>neu</strong>" in shown and "geboren am 01.04.1990" in shown
    assert "von Samira Beispiel (die Person selbst), am 01.12.2026, 09:30 Uhr" in shown
    assert "Die Person wurde informiert: wozu die Angaben weitergegeben werden;" in shown and "§ 65 SGB VIII" in shown

    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    assert sent.headers["Location"] in agency.get("/vermittlungen").get_data(as_text=True)


def test_a_body_routing_does_not_name_cannot_be_chosen_and_only_case_managers_send(
    web_app: Flask, directory: Directory
) -> None:
    client = signed_in(web_app, "cm.witten")
    herford = directory.org_named("Jugendamt Kreis Herford (Demo)")
    wrong = client.get(f"/vermitteln?rechtskreis=SGB_VIII&ort=58453&wohnsitz=parents&stelle={herford}")
    assert wrong.status_code == 302 and wrong.headers["Location"] == "/zustaendigkeit"
    assert "nicht zuständig" in client.get("/zustaendigkeit").get_data(as_text=True)
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    assert (
        agency.get(f"/vermitteln?rechtskreis=SGB_VIII&ort=58453&wohnsitz=parents&stelle={herford}").status_code == 404
    )


def test_a_saved_draft_is_changed_on_the_question_page_and_sent_later(web_app: Flask, directory: Directory) -> None:
    client = signed_in(web_app, "cm.witten")
    answer = client.get("/zustaendigkeit?frage=1&rechtskreis=SGB_II&ort=58453").get_data(as_text=True)
    [link] = re.findall(r'href="(/vermitteln\?[^"]+)">An Jobcenter', answer)
    hidden = _form(_question_page(client, link))
    filled = {
        **hidden,
        "name": "Amir Beispiel",
        "anliegen": "Antrag auf Bürgergeld",
        "eingewilligt_von": "Amir Beispiel",
        "eingewilligt_am": "2026-12-01",
        "eingewilligt_um": "10:15",
        "form": "verbal_documented",
        **TOLD,
        "rolle": "client",
        "daten": ["name", "reason"],
    }
    saved = client.post("/vermitteln", data={**filled, "schritt": "entwurf"})
    page_url = saved.headers["Location"]
    ident = page_url.rsplit("/", 1)[1]
    page = client.get(page_url).get_data(as_text=True)
    assert (
        "Stand: <strong>Entwurf</strong>" in page and f'href="/vermitteln/entwurf/{ident}">Entwurf bearbeiten' in page
    )

    form = client.get(f"/vermitteln/entwurf/{ident}").get_data(as_text=True)
    assert 'value="Amir Beispiel"' in form and "Antrag auf Bürgergeld" in form and 'value="10:15"' in form
    again = _form(form)
    assert again["entwurf"] == ident and again["revision"] == "1"
    assert 'name="rolle" value="client" checked' in form  # who consented is kept; whether, asked again:
    assert 'name="einwilligung" value="ja" checked' not in form and 'value="purpose" checked' not in form
    written = {**filled, **again, "anliegen": "Antrag auf Bürgergeld, Termin mit Sprachmittlung", **TOLD}
    changed = client.post("/vermitteln", data={**written, "schritt": "entwurf"})
    assert changed.headers["Location"] == page_url
    page = client.get(page_url).get_data(as_text=True)
    assert "Termin mit Sprachmittlung" in page and "Stand: <strong>Entwurf</strong>" in page

    stale = client.post("/vermitteln", data={**written, "schritt": "senden"})  # revision 1 was read before
    assert stale.headers["Location"] == page_url
    assert "inzwischen geändert oder abgeschickt" in client.get(page_url).get_data(as_text=True)

    fresh = _form(client.get(f"/vermitteln/entwurf/{ident}").get_data(as_text=True))
    sent = client.post("/vermitteln", data={**written, **fresh, **TOLD, "schritt": "senden"})
    assert sent.headers["Location"] == page_url
    page = client.get(page_url).get_data(as_text=True)
    assert "Stand: <strong>neu</strong>" in page and "Entwurf bearbeiten" not in page
    assert client.get(f"/vermitteln/entwurf/{ident}").status_code == 302  # no draft any more

    add_user(directory, "cm.bochum", "Bert B.", Role.CASE_MANAGER, "Jugendamt der Stadt Bochum (Demo)")
    assert signed_in(web_app, "cm.bochum").get(f"/vermitteln/entwurf/{ident}").status_code == 404


def test_a_case_manager_refers_to_an_offer_found_in_the_search(web_app: Flask, directory: Directory) -> None:
    client = signed_in(web_app, "cm.witten")
    results = client.get("/angebote?q=Deutschkurs&ort=58453&umkreis=25").get_data(as_text=True)
    [link] = re.findall(r'href="(/angebote/[0-9a-f-]{36})">Integrationskurs mit Alphabetisierung \(Wetter', results)
    offer = client.get(link).get_data(as_text=True)
    [start] = re.findall(
        r'href="(/vermitteln\?angebot=[0-9a-f-]{36})"><span class="kern-label">An dieses Angebot', offer
    )
    form = _question_page(client, start)
    assert "Angebot „Integrationskurs mit Alphabetisierung (Wetter (Ruhr))“" in form and 'id="ort"' in form
    hidden = _form(form)
    filled = {
        **hidden,
        "name": "Amir Beispiel",
        "anliegen": "Deutschkurs mit Kinderbetreuung",
        "eingewilligt_von": "Amir Beispiel",
        "eingewilligt_am": "2026-12-01",
        "eingewilligt_um": "11:00",
        "form": "written",
        **TOLD,
        "rolle": "client",
        "daten": ["name", "reason"],
    }
    nowhere = client.post("/vermitteln", data={**filled, "schritt": "pruefen"})
    assert nowhere.status_code == 400 and 'href="#ort"' in nowhere.get_data(as_text=True)  # the place is asked
    check = client.post("/vermitteln", data={**filled, "ort": "58453", "schritt": "pruefen"}).get_data(as_text=True)
    assert "Prüfen Sie Ihre Angaben" in check and "Integrationskurs mit Alphabetisierung (Wetter (Ruhr))" in check
    sent = client.post("/vermitteln", data={**_form(check), "daten": ["name", "reason"], **TOLD, "schritt": "senden"})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    provider = html.unescape(re.findall(r'<p class="kern-body">([^<]+)</p>', offer)[0])
    assert f"{provider} wird jetzt benachrichtigt" in page and "Angebot „Integrationskurs mit Alphabetisierung" in page
    assert client.get("/vermitteln?angebot=00000000-0000-4000-8000-000000000000").status_code == 302


def test_a_no_to_the_consent_stores_nothing_and_says_what_else_can_be_done(
    web_app: Flask, directory: Directory
) -> None:
    client = signed_in(web_app, "cm.witten")
    answer = client.get("/zustaendigkeit?frage=1&rechtskreis=SGB_II&ort=58453").get_data(as_text=True)
    [link] = re.findall(r'href="(/vermitteln\?[^"]+)">An Jobcenter', answer)
    form = _question_page(client, link)
    assert "§ 65 SGB VIII" not in form  # not to a Jugendamt
    refused = client.post(
        "/vermitteln",
        data={**_form(form), "name": "Nadia Ohnezustimmung", "anliegen": "Bürgergeld", "einwilligung": "nein",
              "schritt": "pruefen"},
    )  # fmt: skip
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Ohne Einwilligung wird nichts vermittelt" in text
    assert "Lotse hat nichts gespeichert" in text and "anonyme Fallberatung" in text
    assert "Ohnezustimmung" not in text  # not even shown back
    assert "Ohnezustimmung" not in client.get("/vermittlungen?entwuerfe=1").get_data(as_text=True)
    assert "Ohnezustimmung" not in client.get("/vermittlungen").get_data(as_text=True)


def test_a_child_under_15_does_not_consent_alone(web_app: Flask, directory: Directory) -> None:
    client = signed_in(web_app, "cm.witten")
    answer = client.get("/zustaendigkeit?frage=1&rechtskreis=SGB_VIII&ort=58453&wohnsitz=parents").get_data(
        as_text=True
    )
    [link] = re.findall(r'href="(/vermitteln\?[^"]+)">An Jugendamt der Stadt Witten \(Demo\) vermitteln', answer)
    filled = {
        **_form(_question_page(client, link)),
        "name": "Mira Beispiel",
        "geburtsdatum": "02.12.2011",  # 14 on the day of the consent, 15 the day after
        "anliegen": "Beratung",
        "eingewilligt_von": "Mira Beispiel",
        "eingewilligt_am": "2026-12-01",
        "eingewilligt_um": "09:00",
        "form": "written",
        **TOLD,
        "rolle": "client",
        "daten": ["name", "birth_date", "reason"],
        "schritt": "pruefen",
    }
    alone = client.post("/vermitteln", data=filled)
    assert alone.status_code == 400 and "jünger als 15 Jahre" in alone.get_data(as_text=True)
    by_mother = {**filled, "rolle": "custodian", "eingewilligt_von": "Samira Beispiel"}
    check = client.post("/vermitteln", data=by_mother).get_data(as_text=True)
    assert "Prüfen Sie Ihre Angaben" in check and "von Samira Beispiel (die sorgeberechtigte Person" in check
    a_day_later = client.post("/vermitteln", data={**filled, "eingewilligt_am": "2026-12-02"})
    assert a_day_later.status_code == 200  # 15 that day: she consents herself
