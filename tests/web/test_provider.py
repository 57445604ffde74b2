"""Vom Anbieter bestätigen lassen: a maintainer makes a link for an offer's provider; the provider opens it
without an account and answers once, a correction (which the maintainers see until one marks it dealt with)
or "Alles stimmt" (the offer counts as confirmed); an unknown link and an expired one get a page that says
so."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role

from tests.routing.conftest import Directory
from tests.web.conftest import add_user, csrf, signed_in
from tests.web.test_maintain import maintained_offer


def _link(client: FlaskClient, offer: str) -> str:
    page = client.get(f"/pflege/angebote/{offer}").get_data(as_text=True)
    made = client.post(f"/pflege/angebote/{offer}/bestaetigungslink", data={"csrf_token": csrf(page)})
    shown = made.get_data(as_text=True)
    assert made.status_code == 200 and "Der Link gilt bis zum" in shown and "mailto:" in shown
    [link] = re.findall(r'id="link" type="text" value="http://localhost(/bestaetigen/[^"]+)"', shown)
    return link


def test_a_provider_corrects_then_confirms_through_links_without_an_account(
    web_app: Flask, directory: Directory
) -> None:
    org, offer, name = maintained_offer(directory)
    add_user(directory, "pflege.link", "Lena L.", Role.MAINTAINER, org)
    maintainer = signed_in(web_app, "pflege.link")
    link = _link(maintainer, offer)

    provider = web_app.test_client()  # nobody signed in
    page = provider.get(link).get_data(as_text=True)
    assert name in page and "09:00–12:00" in page and "Bitte prüfen Sie, ob alles stimmt" in page
    empty = provider.post(link, data={"csrf_token": csrf(page), "aktion": "korrektur", "korrektur": ""})
    assert empty.status_code == 400 and "Schreiben Sie, was nicht stimmt" in empty.get_data(as_text=True)
    sent = provider.post(
        link, data={"csrf_token": csrf(page), "aktion": "korrektur", "korrektur": "Montags erst ab 10 Uhr"}
    )
    assert sent.status_code == 302
    thanked = provider.get(link).get_data(as_text=True)
    assert "Vielen Dank für Ihre Antwort" in thanked and "Korrektur senden" not in thanked
    provider.post(link, data={"csrf_token": csrf(page), "aktion": "stimmt"})  # once only
    assert "geschrieben, was nicht stimmt" in provider.get(link).get_data(as_text=True)

    overview = maintainer.get("/pflege").get_data(as_text=True)
    assert "Hinweise von Anbietern (1)" in overview and "Montags erst ab 10 Uhr" in overview
    [done] = re.findall(r'action="(/pflege/anbieter-hinweise/[0-9a-f-]+/erledigt)"', overview)
    maintainer.post(done, data={"csrf_token": csrf(overview)})
    assert "Hinweise von Anbietern" not in maintainer.get("/pflege").get_data(as_text=True)
    assert "erledigt am" in maintainer.get(f"/pflege/angebote/{offer}").get_data(as_text=True)

    second = _link(maintainer, offer)
    page = provider.get(second).get_data(as_text=True)
    assert provider.post(second, data={"csrf_token": csrf(page), "aktion": "stimmt"}).status_code == 302
    shown = maintainer.get(f"/pflege/angebote/{offer}").get_data(as_text=True)
    assert "„Alles stimmt“" in shown and "Zuletzt als aktuell bestätigt am" in shown


def test_an_unknown_or_expired_link_says_so(
    web_app: Flask, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, offer, _ = maintained_offer(directory)
    add_user(directory, "pflege.alt", "Alma A.", Role.MAINTAINER, org)
    link = _link(signed_in(web_app, "pflege.alt"), offer)
    anybody = web_app.test_client()
    unknown = anybody.get(link[:-3] + "xyz")
    assert unknown.status_code == 404 and "Diesen Link kennen wir nicht" in unknown.get_data(as_text=True)
    assert anybody.get("/bestaetigen/%3Cscript%3E").status_code == 404
    monkeypatch.setattr(directory.container.provider_links, "valid_days", -1)
    expired = anybody.get(link)
    assert expired.status_code == 410 and "Dieser Link ist abgelaufen" in expired.get_data(as_text=True)
    assert signed_in(web_app, "cm.witten").post(f"/pflege/angebote/{offer}/bestaetigungslink").status_code in (400, 404)
