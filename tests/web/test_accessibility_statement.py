"""The accessibility statement (BITV NRW): open to everyone, linked at the foot of every page; its feedback
form reaches the operator through a real SMTP server (aiosmtpd), says so, and loses nothing when the mail
server is away."""

import re

import pytest
from flask import Flask
from lotse_web import create_app
from lotse_web.settings import Settings

from tests.conftest import free_port
from tests.notify.conftest import Mailbox, mailbox  # noqa: F401 (a real SMTP server)
from tests.web.conftest import csrf


def _app(web_app: Flask, **extra: str) -> Flask:
    """The test's web app with the operator's address and a mail server set."""
    settings = web_app.extensions["lotse.web"]["settings"]
    env = {
        "LOTSE_VAR_DIR": str(settings.var_dir),
        "LOTSE_WEB_DIRECTORY_URL": settings.directory_url,
        "LOTSE_WEB_ROUTING_URL": settings.routing_url,
        "LOTSE_WEB_NOTIFY_URL": settings.notify_url,
        "LOTSE_WEB_OPERATOR": "Kreis Musterland",
        "LOTSE_WEB_OPERATOR_EMAIL": "barrierefreiheit@kreis-musterland.example",
        **extra,
    }
    return create_app(Settings.from_env(env))


def test_the_statement_is_open_to_everyone_and_names_what_is_not_accessible(web_app: Flask) -> None:
    client = web_app.test_client()
    assert 'href="/barrierefreiheit">Barrierefreiheit</a>' in client.get("/anmelden").get_data(as_text=True)
    page = client.get("/barrierefreiheit").get_data(as_text=True)
    assert "Erklärung zur Barrierefreiheit" in page and "teilweise vereinbar" in page
    assert "Gebärdensprache" in page and "Ombudsstelle für barrierefreie Informationstechnik" in page
    assert 'name="nachricht"' not in page  # no mail server set: no form that could not send
    assert "Kontaktadresse dieser Installation ist noch nicht eingetragen" in page


def test_feedback_reaches_the_operator_by_mail(web_app: Flask, mailbox: Mailbox) -> None:  # noqa: F811
    app = _app(web_app, LOTSE_WEB_SMTP_HOST=mailbox.host, LOTSE_WEB_SMTP_PORT=str(mailbox.port))
    client = app.test_client()
    page = client.get("/barrierefreiheit").get_data(as_text=True)
    assert "Kreis Musterland ist bemüht" in page and "mailto:barrierefreiheit@kreis-musterland.example" in page
    token = csrf(page)
    empty = client.post("/barrierefreiheit", data={"csrf_token": token, "email": "kein at"})
    text = empty.get_data(as_text=True)
    assert empty.status_code == 400 and 'href="#nachricht"' in text and 'href="#email"' in text
    assert mailbox.messages == []
    sent = client.post(
        "/barrierefreiheit",
        data={
            "csrf_token": token,
            "nachricht": "Das Datumsfeld liest mein Screenreader nicht vor.",
            "seite": "Vermitteln",
            "email": "nutzerin@beispiel.de",
        },
    )
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/barrierefreiheit#rueckmeldung")
    assert "Danke. Ihre Nachricht ist an die Stelle gegangen" in client.get("/barrierefreiheit").get_data(as_text=True)
    [mail] = mailbox.messages
    assert mail["To"] == "barrierefreiheit@kreis-musterland.example" and mail["Reply-To"] == "nutzerin@beispiel.de"
    body = mail.get_content()
    assert "Das Datumsfeld liest mein Screenreader nicht vor." in body and "Seite: Vermitteln" in body


def test_feedback_is_kept_on_the_page_when_the_mail_server_is_away(web_app: Flask) -> None:
    app = _app(web_app, LOTSE_WEB_SMTP_HOST="127.0.0.1", LOTSE_WEB_SMTP_PORT=str(free_port()))
    client = app.test_client()
    token = csrf(client.get("/barrierefreiheit").get_data(as_text=True))
    answer = client.post("/barrierefreiheit", data={"csrf_token": token, "nachricht": "Kontrast zu schwach"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 503 and "konnte gerade nicht gesendet werden" in text
    assert re.search(r"<textarea[^>]*>Kontrast zu schwach</textarea>", text)  # nothing typed is lost
    assert "barrierefreiheit@kreis-musterland.example" in text


@pytest.mark.parametrize("header", ["nutzerin@beispiel.de\nBcc: alle@beispiel.de", "Name <a@b.de>"])
def test_an_address_cannot_add_mail_headers(web_app: Flask, header: str) -> None:
    app = _app(web_app, LOTSE_WEB_SMTP_HOST="127.0.0.1")
    client = app.test_client()
    token = csrf(client.get("/barrierefreiheit").get_data(as_text=True))
    answer = client.post("/barrierefreiheit", data={"csrf_token": token, "nachricht": "x", "email": header})
    assert answer.status_code == 400 and 'href="#email"' in answer.get_data(as_text=True)
