"""Benutzer in the browser application: an administrator invites a person, who chooses a password with the link
(used once) and logs in; the administrator changes the person's role and deactivates them (no login), resets
the password (the old one stops working, a new link); nobody else gets the pages, and an administrator cannot
lock themselves out."""

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role

from tests.routing.conftest import Directory
from tests.web.conftest import KI_EN, WITTEN, add_user, csrf, signed_in


def _log_in(app: Flask, login: str, password: str) -> int:
    client = app.test_client()
    form = client.get("/anmelden").get_data(as_text=True)
    return client.post("/anmelden", data={"login": login, "password": password, "csrf_token": csrf(form)}).status_code


def _link(page: str) -> str:
    [link] = re.findall(r'id="link" type="text" value="http://localhost(/passwort/[^"]+)"', page)
    return link


def _choose(app: Flask, link: str, password: str, again: str | None = None) -> FlaskClient | int:
    client = app.test_client()
    page = client.get(link)
    if page.status_code != 200:
        return page.status_code
    form = {"csrf_token": csrf(page.get_data(as_text=True)), "passwort": password, "wiederholung": again or password}
    return client.post(link, data=form).status_code


def test_an_admin_invites_changes_deactivates_and_resets_a_person(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "admin.benutzer", "Ada B.", Role.ADMIN, WITTEN)
    admin = signed_in(web_app, "admin.benutzer")
    login = f"neu.{uuid.uuid4().hex[:6]}"
    page = admin.get("/verwaltung/benutzer/neu").get_data(as_text=True)
    form = {"csrf_token": csrf(page), "login": login, "name": "Nele N.", "email": "nele@", "rolle": "maintainer"}
    wrong = admin.post("/verwaltung/benutzer/neu", data={**form, "organisation": "Gibt es nicht"})
    shown = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "E-Mail-Adresse wie" in shown and "Diese Organisation kennen wir nicht" in shown
    invited = admin.post(
        "/verwaltung/benutzer/neu",
        data={**form, "email": "nele@ki.example", "organisation": KI_EN, "regionen": "Ennepe-Ruhr-Kreis"},
    )
    shown = invited.get_data(as_text=True)
    assert invited.status_code == 200 and "Einladung für Nele N." in shown and "mailto:nele%40ki.example" in shown
    link = _link(shown)
    assert _log_in(web_app, login, "noch kein Passwort!") == 400

    assert _choose(web_app, link, "zu kurz") == 400
    assert _choose(web_app, link, "ein langer Satz als Passwort", "ein anderer Satz als Passwort") == 400
    assert _choose(web_app, link, "ein langer Satz als Passwort") == 302
    assert _choose(web_app, link, "noch ein langer Satz") == 410  # used once
    assert _log_in(web_app, login, "ein langer Satz als Passwort") == 302

    listed = admin.get("/verwaltung/benutzer", query_string={"q": "Nele"}).get_data(as_text=True)
    assert "Nele N." in listed and "Verzeichnispflege" in listed and KI_EN in listed
    person = admin.get(f"/verwaltung/benutzer/{login}").get_data(as_text=True)
    assert 'value="05954"' in person  # the Kreis by its key
    changed = admin.post(
        f"/verwaltung/benutzer/{login}",
        data={"csrf_token": csrf(person), "name": "Nele N.", "rolle": "coordinator", "organisation": KI_EN,
              "regionen": "", "aktiv": "nein"},
    )  # fmt: skip
    assert changed.status_code == 302
    assert "deaktiviert" in admin.get("/verwaltung/benutzer").get_data(as_text=True)
    assert _log_in(web_app, login, "ein langer Satz als Passwort") == 400
    admin.post(
        f"/verwaltung/benutzer/{login}",
        data={"csrf_token": csrf(person), "name": "Nele N.", "rolle": "coordinator", "organisation": KI_EN,
              "aktiv": "ja"},
    )  # fmt: skip
    assert _log_in(web_app, login, "ein langer Satz als Passwort") == 302

    reset = admin.post(f"/verwaltung/benutzer/{login}/passwort", data={"csrf_token": csrf(person)})
    assert "Passwort von Nele N. zurückgesetzt" in reset.get_data(as_text=True)
    assert _log_in(web_app, login, "ein langer Satz als Passwort") == 400
    assert _choose(web_app, _link(reset.get_data(as_text=True)), "ein ganz neuer Satz") == 302
    assert _log_in(web_app, login, "ein ganz neuer Satz") == 302

    own = admin.get("/verwaltung/benutzer/admin.benutzer").get_data(as_text=True)
    locked = admin.post(
        "/verwaltung/benutzer/admin.benutzer",
        data={"csrf_token": csrf(own), "name": "Ada B.", "rolle": "admin", "aktiv": "nein"},
    )
    assert locked.status_code == 400 and "Sich selbst können Sie nicht deaktivieren" in locked.get_data(as_text=True)
    assert web_app.test_client().get("/passwort/" + "x" * 30).status_code == 404
    assert signed_in(web_app, "cm.witten").get("/verwaltung/benutzer").status_code == 404
