"""Lotse web over the real directory (demo data, served over HTTP): login with a password the directory
checks, CSRF on every form, a session that ends when left idle, no open redirect, a security header on every
page, and the offer search with its filters, distances and German messages."""

import re
import time
from dataclasses import replace

import pytest
import urllib3
from flask import Flask
from flask.testing import FlaskClient
from lotse_web import create_app
from lotse_web.adapters.api import today_in_german

from tests.conftest import metric_samples
from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import PASSWORD, csrf, signed_in


@pytest.fixture
def web(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


_csrf = csrf


def _log_in(web: FlaskClient, password: str = PASSWORD, then: str = "") -> object:
    form = web.get("/anmelden").get_data(as_text=True)
    target = f"/anmelden?weiter={then}" if then else "/anmelden"
    return web.post(target, data={"login": "cm.witten", "password": password, "csrf_token": _csrf(form)})


def test_pages_ask_for_login_and_the_directory_checks_the_password(web: FlaskClient) -> None:
    first = web.get("/angebote?q=Deutschkurs")
    assert first.status_code == 302 and first.headers["Location"].startswith("/anmelden?weiter=/angebote")
    wrong = _log_in(web, "falsch")
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    page = wrong.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Es gibt ein Problem" in page and 'href="#password"' in page and "stimmen nicht" in page
    assert "<title>Fehler: Anmelden – Lotse</title>" in page
    right = _log_in(web, then="/angebote?q=Deutschkurs")
    assert right.status_code == 302 and right.headers["Location"] == "/angebote?q=Deutschkurs"  # type: ignore[attr-defined]
    start = web.get("/").get_data(as_text=True)
    assert "Guten Tag, Clara M." in start and "Case Management" in start


def test_a_form_without_its_csrf_token_is_refused(web: FlaskClient) -> None:
    answer = web.post("/anmelden", data={"login": "cm.witten", "password": PASSWORD})
    assert answer.status_code == 400 and "csrf" in answer.get_data(as_text=True).lower()
    assert web.get("/").status_code == 302  # not signed in


def test_after_login_only_paths_of_this_site_are_followed(web: FlaskClient) -> None:
    for target in ("//boese.example/", "https://boese.example/", "/\\boese.example"):
        answer = _log_in(web, then=target)
        assert answer.headers["Location"] == "/", target  # type: ignore[attr-defined]
        web.post("/abmelden", data={"csrf_token": _csrf(web.get("/").get_data(as_text=True))})


def test_an_idle_session_ends_and_logout_ends_it_at_once(web: FlaskClient) -> None:
    _log_in(web)
    with web.session_transaction() as session:
        session["seen"] = time.time() - 31 * 60  # half an hour without a request
    answer = web.get("/")
    assert answer.status_code == 302
    assert "abgelaufen" in web.get("/anmelden").get_data(as_text=True)
    _log_in(web)
    assert web.get("/").status_code == 200
    assert web.post("/abmelden", data={}).status_code == 400  # logout is a form too (CSRF)
    done = web.post("/abmelden", data={"csrf_token": _csrf(web.get("/").get_data(as_text=True))})
    assert done.status_code == 302 and web.get("/").status_code == 302


def test_every_page_has_the_security_headers_and_no_inline_script(web: FlaskClient) -> None:
    signed_in = _log_in(web)
    cookie = signed_in.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("lotse_sitzung=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for path in ("/anmelden", "/", "/angebote", "/angebote?q=Deutschkurs&ort=58453"):
        answer = web.get(path)
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin" and answer.headers["Cache-Control"] == "no-store"
        page = answer.get_data(as_text=True)
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)  # htmx and lotse.js, from files
        assert len(scripts) == (2 if answer.status_code == 200 else 0) and not any(scripts), path  # none inline
        assert not re.search(r"\son[a-z]+=", page) and "hx-on" not in page, path  # no inline handler


def test_the_search_finds_offers_near_a_place_with_filters_distances_and_a_bookmarkable_address(
    web: FlaskClient,
) -> None:
    _log_in(web)
    page = web.get("/angebote?q=Deutschkurs&ort=58453&umkreis=25").get_data(as_text=True)
    assert "im Umkreis von 25 km um 58453 Witten" in page
    assert "Integrationskurs mit Alphabetisierung (Wetter (Ruhr))" in page and "km entfernt" in page
    assert "Arabisch" in page and "Persisch" in page  # languages by their German names
    assert 'name="sprache" value="ar"' in page  # a filter with its count
    assert re.search(
        r'key">Heute</dt><dd class="kern-description-list-item__value">[^<]*(Uhr|Vereinbarung|geschlossen)', page
    )
    filtered = web.get("/angebote?q=Deutschkurs&ort=58453&umkreis=25&sprache=ar").get_data(as_text=True)
    assert 'value="ar" checked' in filtered
    unknown = web.get("/angebote?q=Deutschkurs&ort=Atlantis&umkreis=25")
    assert unknown.status_code == 400
    assert "Den Ort „Atlantis“ kennen wir nicht" in unknown.get_data(as_text=True)
    nothing = web.get("/angebote?q=Zyxwvut").get_data(as_text=True)
    assert "0 Angebote" in nothing and "Nichts gefunden" in nothing
    assert web.get("/angebote?q=x&umkreis=9999").status_code == 400


def test_who_is_responsible_answers_with_the_office_and_why(web: FlaskClient) -> None:
    _log_in(web)
    page = web.get("/zustaendigkeit?frage=1&rechtskreis=SGB_II&ort=58453").get_data(as_text=True)
    assert "Zuständig ist: Jobcenter Ennepe-Ruhr-Kreis (Demo)" in page
    assert "Demostraße 240, 58332 Schwelm" in page and "Mo, Di, Mi, Do, Fr 08:00–12:00" in page
    assert "Warum?" in page and "§ 36 SGB II" in page


def test_an_ambiguous_place_shows_every_candidate_and_what_decides_and_picks_none(web: FlaskClient) -> None:
    _log_in(web)
    answer = web.get("/zustaendigkeit?frage=1&rechtskreis=SGB_VIII&ort=32046&wohnsitz=parents")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Nicht eindeutig: 2 Stellen kommen in Frage" in page
    assert "Jugendamt Kreis Herford (Demo)" in page and "Jugendamt der Stadt Bielefeld (Demo)" in page
    assert "Entscheidend ist die Gemeinde" in page and "32046 Kreis Herford, 32046 Bielefeld" in page
    assert page.count("wahrscheinlich, aber nicht sicher") == 1  # a hint on one, no choice made
    assert "Zuständig ist:" not in page


def test_who_is_responsible_explains_what_is_missing_in_german(web: FlaskClient) -> None:
    _log_in(web)
    youth = web.get("/zustaendigkeit?frage=1&rechtskreis=SGB_VIII&ort=58453")
    assert youth.status_code == 400 and "§ 86 SGB VIII" in youth.get_data(as_text=True)
    assert 'href="#wohnsitz"' in youth.get_data(as_text=True)
    nowhere = web.get("/zustaendigkeit?frage=1&rechtskreis=SGB_II&ort=Atlantis")
    assert nowhere.status_code == 400 and "Diesen Ort kennen wir nicht" in nowhere.get_data(as_text=True)
    nothing = web.get("/zustaendigkeit?frage=1")
    text = nothing.get_data(as_text=True)
    assert nothing.status_code == 400 and 'href="#rechtskreis"' in text and 'href="#ort"' in text


def test_an_offer_page_has_what_a_client_needs(web: FlaskClient) -> None:
    _log_in(web)
    results = web.get("/angebote?q=Deutschkurs&ort=58453&umkreis=25").get_data(as_text=True)
    [link] = re.findall(
        r'<a class="kern-link" href="(/angebote/[0-9a-f-]{36})">Integrationskurs mit Alphabetisierung \(Wetter', results
    )
    page = web.get(link).get_data(as_text=True)
    assert '<h1 class="kern-heading-large">Integrationskurs mit Alphabetisierung (Wetter (Ruhr))</h1>' in page
    assert "Demostraße 5024, 58300 Wetter (Ruhr)" in page and "Telefon +49 000 5024-0" in page
    assert "Mo, Di, Mi, Do, Fr 08:00–12:00" in page and "Do 14:00–18:00 (nach Vereinbarung)" in page
    assert "An Feiertagen geschlossen" in page and "Arabisch" in page
    assert web.get("/angebote/00000000-0000-0000-0000-000000000000").status_code == 404
    assert web.get("/angebote/kein-angebot").status_code == 404


def test_too_many_wrong_passwords_are_explained_in_german(web: FlaskClient) -> None:
    for _ in range(5):
        _log_in(web, "falsch")
    locked = _log_in(web)  # the right password, too late
    assert locked.status_code == 400  # type: ignore[attr-defined]
    assert "Zu viele falsche Passwörter" in locked.get_data(as_text=True)  # type: ignore[attr-defined]


def test_the_web_application_has_probes_and_metrics_like_every_service(web: FlaskClient) -> None:
    assert web.get("/health").json == {"status": "ok"}
    ready = web.get("/ready")
    assert ready.status_code == 200 and ready.json["checks"] == {"directory": "ok", "routing": "ok"}
    _log_in(web)
    web.get("/angebote?q=Deutschkurs")
    samples = metric_samples(web.get("/metrics").data)
    assert samples['lotse_http_requests_total{method="GET",route="/angebote",service="web",status="200"}'] >= 1
    assert not any("Deutschkurs" in key for key in samples)  # the route, never what was searched


def test_the_web_application_is_not_ready_while_a_service_it_shows_does_not_answer(web_app: Flask) -> None:
    web_app.extensions["lotse.web"]["settings"] = replace(
        web_app.extensions["lotse.web"]["settings"], routing_url="http://127.0.0.1:9"
    )
    ready = web_app.test_client().get("/ready")
    assert ready.status_code == 503 and [e["name"] for e in ready.json["errors"]] == ["routing"]


def test_a_service_that_does_not_answer_gives_a_german_page_with_the_request_id(web_app: Flask) -> None:
    settings = replace(web_app.extensions["lotse.web"]["settings"], routing_url="http://127.0.0.1:9")
    web = signed_in(create_app(settings), "cm.witten")
    page = web.get("/vermittlungen", headers={"X-Request-Id": "fall-58453"})
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "Ein Dienst von Lotse antwortet gerade nicht." in text
    assert "fall-58453" in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("today", "said"),
    [
        ({"hours": ["08:00–12:00", "14:00–18:30"]}, "08:00 bis 12:00 und 14:00 bis 18:30 Uhr"),
        ({"hours": ["09:00–12:00"], "by_appointment": True}, "09:00 bis 12:00 Uhr, sonst nach Vereinbarung"),
        ({"hours": [], "by_appointment": True}, "nach Vereinbarung"),
        ({"hours": [], "closed_for_holiday": "Erster Weihnachtstag"}, "geschlossen (Erster Weihnachtstag)"),
        ({"hours": []}, "keine Öffnungszeiten angegeben"),
    ],
)
def test_today_s_opening_hours_read_as_german(today: dict[str, object], said: str) -> None:
    assert today_in_german(today) == said


def test_htmx_gets_the_search_s_part_of_the_page_and_a_browser_without_it_the_whole(web: FlaskClient) -> None:
    _log_in(web)
    address = "/angebote?q=Deutschkurs&ort=58453&suchen=1"
    part = web.get(address, headers={"HX-Request": "true"})
    text = part.get_data(as_text=True)
    assert part.status_code == 200 and "HX-Request" in part.headers["Vary"]
    assert text.startswith('<div id="suche">') and "<html" not in text and "lotse-hit" in text
    assert re.search(r'id="suche-status"[^>]*hx-swap-oob="true">\d+ Angebote? gefunden\.</p>', text)
    wrong = web.get("/angebote?q=Deutschkurs&ort=Atlantis", headers={"HX-Request": "true"})
    assert wrong.status_code == 400 and "lotse-error-summary" in wrong.get_data(as_text=True)  # in the part
    restored = web.get(address, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.get_data(as_text=True)  # back in history: the whole page
    assert "<html" in web.get(address).get_data(as_text=True)


def test_an_offer_page_shows_staff_what_only_staff_may_see_and_the_public_sees_none_of_it(
    web: FlaskClient, directory: Directory
) -> None:
    _log_in(web)
    results = web.get("/angebote?q=Deutschkurs&ort=58453&umkreis=25").get_data(as_text=True)
    [link] = re.findall(r'href="(/angebote/[0-9a-f-]{36})">Integrationskurs mit Alphabetisierung \(Wetter', results)
    offer = link.rsplit("/", 1)[1]
    entries = directory.container.entries
    made = [
        entries.create(ADMIN, "contact", {"service_id": offer, "name": "Frau Öffentlich", "title": "Kursleitung"}),
        entries.create(
            ADMIN,
            "contact",
            {"service_id": offer, "name": "Herr Intern", "department": "Sozialdienst", "visibility": "case_managers"},
        ),
    ]
    made.append(
        entries.create(
            ADMIN, "phone", {"contact_id": made[1].values["id"], "number": "+49 000 777", "visibility": "case_managers"}
        )
    )
    try:
        page = web.get(link).get_data(as_text=True)
        assert "Ansprechperson</dt>" in page and "Frau Öffentlich, Kursleitung" in page
        staff = page[page.index('id="fachkraefte"') :]
        assert "Herr Intern (Sozialdienst)" in staff and "Telefon +49 000 777" in staff
        assert "Herr Intern" not in page[: page.index('id="fachkraefte"')]
        public = urllib3.request("GET", f"{directory.url}/hsds/services/{offer}").data.decode()
        assert "Frau Öffentlich" in public and "Herr Intern" not in public and "777" not in public
    finally:
        for entry in reversed(made):
            entries.delete(ADMIN, entry.entity, entry.values["id"], entry.etag)
