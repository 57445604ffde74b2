"""Organisationen, Orte und Ansprechpersonen in the browser application: a maintainer creates a provider, its
place with an address everyone sees and a phone only case managers see, a contact person, and an offer at the
place, which a case manager then finds near the place; bad input is named and writes nothing; a save made
meanwhile is shown beside the maintainer's input and nothing is overwritten; another organisation's
maintainer does not get the pages."""

import html
import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role

from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import WITTEN, add_user, csrf, signed_in


def _home(directory: Directory) -> str:
    """A new organisation (its name) whose maintainers keep the providers they create."""
    name = f"KI Test {uuid.uuid4().hex[:6]}"
    directory.container.entries.create(ADMIN, "organization", {"name": name, "description": "Koordination"})
    return name


def _post(client: FlaskClient, url: str, **form: str | list[str]) -> tuple[int, str, str | None]:
    page = client.get(url).get_data(as_text=True)
    answer = client.post(url, data={"csrf_token": csrf(page), **form})
    return answer.status_code, answer.get_data(as_text=True), answer.headers.get("Location")


def _revisions(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'name="(revision_\w+)" value="([^"]+)"', page)}


def test_a_maintainer_creates_a_provider_with_place_contact_and_offer(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "pflege.neu", "Nora P.", Role.MAINTAINER, _home(directory))
    client = signed_in(web_app, "pflege.neu")
    provider = f"Familienzentrum Annen {uuid.uuid4().hex[:4]} (Test)"
    status, shown, where = _post(client, "/pflege/organisationen/neu", name=provider)
    assert status == 400 and "Geben Sie Beschreibung ein." in shown
    status, _, where = _post(
        client,
        "/pflege/organisationen/neu",
        name=provider,
        description="Beratung für Familien",
        legal_domains=["SGB_VIII"],
    )
    assert status == 302 and where
    org_url = where
    assert provider in client.get("/pflege/organisationen").get_data(as_text=True)

    place = {
        "name": "Treffpunkt Annen",
        "address_1": "Annenstraße 12",
        "postal_code": "00000",
        "city": "Witten",
        "address_visibility": "public",
        "phone": "02302 1234-5",
        "phone_visibility": "case_managers",
    }
    status, shown, _ = _post(client, f"{org_url}/orte/neu", **place)
    assert status == 400 and "Diese Postleitzahl kennen wir nicht" in shown
    assert "Noch kein Ort." in client.get(org_url).get_data(as_text=True)  # nothing written
    status, _, where = _post(client, f"{org_url}/orte/neu", **{**place, "postal_code": "58453"})
    assert status == 302
    shown = client.get(org_url).get_data(as_text=True)
    assert "Treffpunkt Annen</a>: Annenstraße 12, 58453 Witten" in shown and "(Adresse öffentlich)" in shown
    [place_url] = re.findall(r'href="(/pflege/organisationen/[0-9a-f-]+/orte/[0-9a-f-]+)"', shown)
    [place_id] = re.findall(r"/orte/([0-9a-f-]+)", place_url)

    status, shown, _ = _post(
        client,
        f"{org_url}/kontakte/neu",
        name="Aylin Demir",
        title="Familienberatung",
        email="aylin@",
        visibility="case_managers",
        phone="02302 1234-7",
        phone_visibility="case_managers",
    )
    assert status == 400 and "E-Mail-Adresse wie" in shown
    status, _, _ = _post(
        client,
        f"{org_url}/kontakte/neu",
        name="Aylin Demir",
        title="Familienberatung",
        email="aylin@annen.example",
        visibility="case_managers",
        phone="02302 1234-7",
        phone_visibility="case_managers",
    )
    assert status == 302

    status, _, where = _post(
        client,
        f"{org_url}/angebote/neu",
        name="Elterncafé Annen",
        description="Offener Treff für Eltern",
        legal_domains=["SGB_VIII"],
        orte=[place_id],
    )
    assert status == 302 and where and where.startswith("/pflege/angebote/")
    offer = where.rsplit("/", 1)[1]

    case_manager = signed_in(web_app, "cm.witten")
    found = case_manager.get("/angebote", query_string={"q": "Elterncafé Annen", "ort": "58453"}).get_data(as_text=True)
    assert "Elterncafé Annen" in found
    page = case_manager.get(f"/angebote/{offer}").get_data(as_text=True)
    assert "Annenstraße 12" in page and "02302 1234-5" in page  # the phone: for case managers


def test_a_save_made_meanwhile_is_shown_and_nothing_is_overwritten(web_app: Flask, directory: Directory) -> None:
    home = _home(directory)
    add_user(directory, "orte.eins", "Eva E.", Role.MAINTAINER, home)
    add_user(directory, "orte.zwei", "Zeno Z.", Role.MAINTAINER, home)
    first, second = signed_in(web_app, "orte.eins"), signed_in(web_app, "orte.zwei")
    org = directory.org_named(home)
    place = {
        "name": "Büro Mitte",
        "address_1": "Ruhrstraße 1",
        "postal_code": "58452",
        "city": "Witten",
        "address_visibility": "public",
    }
    status, _, _ = _post(first, f"/pflege/organisationen/{org}/orte/neu", **place)
    assert status == 302
    [url] = re.findall(
        r'href="(/pflege/organisationen/[0-9a-f-]+/orte/[0-9a-f-]+)"',
        first.get(f"/pflege/organisationen/{org}").get_data(as_text=True),
    )
    mine = first.get(url).get_data(as_text=True)
    theirs = second.get(url).get_data(as_text=True)
    saved = second.post(
        url, data={"csrf_token": csrf(theirs), **_revisions(theirs), **place, "address_1": "Ruhrstraße 3"}
    )
    assert saved.status_code == 302
    late = first.post(url, data={"csrf_token": csrf(mine), **_revisions(mine), **place, "city": "Witten-Mitte"})
    shown = late.get_data(as_text=True)
    assert late.status_code == 409 and "Jemand hat den Eintrag inzwischen geändert" in shown
    assert "Ruhrstraße 3" in shown  # what is stored now, beside the input
    stored = first.get(f"/pflege/organisationen/{org}").get_data(as_text=True)
    assert "Ruhrstraße 3, 58452 Witten" in stored  # nothing of the late save was written
    again = first.post(url, data={"csrf_token": csrf(shown), **_revisions(shown), **place, "city": "Witten-Mitte"})
    assert again.status_code == 302  # on purpose now, with the revisions read
    assert "58452 Witten-Mitte" in first.get(f"/pflege/organisationen/{org}").get_data(as_text=True)

    removed = first.post(f"{url}/entfernen", data={"csrf_token": csrf(shown)})
    assert "ist entfernt" in first.get(removed.headers["Location"]).get_data(as_text=True)


def test_another_organisations_maintainer_gets_nothing(web_app: Flask, directory: Directory) -> None:
    home = _home(directory)
    add_user(directory, "pflege.fremd", "Finn F.", Role.MAINTAINER, _home(directory))
    org = directory.org_named(home)
    stranger = signed_in(web_app, "pflege.fremd")
    assert stranger.get(f"/pflege/organisationen/{org}").status_code == 404
    assert stranger.get(f"/pflege/organisationen/{org}/orte/neu").status_code == 404
    assert signed_in(web_app, "cm.witten").get("/pflege/organisationen").status_code == 404


def test_a_maintainer_files_an_offer_under_topics_groups_languages_and_places(
    web_app: Flask, directory: Directory
) -> None:
    home = _home(directory)
    org = directory.org_named(home)
    entries = directory.container.entries
    name = f"Frauencafé {uuid.uuid4().hex[:6]}"
    offer = str(
        entries.create(ADMIN, "service", {"organization_id": org, "name": name, "status": "active"}).values["id"]
    )
    place = entries.create(
        ADMIN,
        "location",
        {"organization_id": org, "location_type": "physical", "name": "Treff", "latitude": 51.44, "longitude": 7.33},
    ).values
    entries.create(
        ADMIN,
        "address",
        {
            "location_id": place["id"],
            "address_1": "Markt 2",
            "city": "Witten",
            "postal_code": "58452",
            "country": "DE",
            "address_type": "physical",
            "state_province": "NW",
        },
    )
    add_user(directory, "pflege.themen", "Tara T.", Role.MAINTAINER, home)
    add_user(directory, "pflege.themen2", "Tim T.", Role.MAINTAINER, home)
    client = signed_in(web_app, "pflege.themen")
    url = f"/pflege/angebote/{offer}/einordnung"
    page = client.get(url).get_data(as_text=True)
    assert "Lotse Themen" in page and "Lotse Zielgruppen" in page and "Arabisch" in page
    term = {
        n: i
        for i, n in re.findall(
            r'value="([0-9a-f-]+)"[^>]*><label class="kern-label" for="begriff-[^"]+">([^<]+)<', page
        )
    }
    revision = html.unescape(re.findall(r'name="revision" value="([^"]+)"', page)[0])
    form = {
        "csrf_token": csrf(page),
        "revision": revision,
        "begriffe": [term["Sprache"], term["Frauen"]],
        "sprachen": ["de", "ar"],
        "orte": [place["id"]],
    }
    wrong = client.post(url, data={**form, "weitere_sprache": "Klingonisch"})
    assert wrong.status_code == 400 and "Diese Sprache kennen wir nicht" in wrong.get_data(as_text=True)
    saved = client.post(url, data={**form, "weitere_sprache": "ha"})
    assert saved.status_code == 302
    shown = client.get(url).get_data(as_text=True)
    assert 'id="sprache-ha" name="sprachen" value="ha" checked' in shown

    case_manager = signed_in(web_app, "cm.witten")
    query = {"q": name, "thema": "Sprache", "zielgruppe": "Frauen", "sprache": "ar", "ort": "58452"}
    assert f"/angebote/{offer}" in case_manager.get("/angebote", query_string=query).get_data(as_text=True)
    elsewhere = case_manager.get("/angebote", query_string={**query, "sprache": "tr"}).get_data(as_text=True)
    assert f"/angebote/{offer}" not in elsewhere

    other = signed_in(web_app, "pflege.themen2")
    theirs = other.get(url).get_data(as_text=True)
    late = client.post(url, data={**form, "csrf_token": csrf(shown), "sprachen": ["de"]})  # the old revision
    assert late.status_code == 409 and "inzwischen geändert" in late.get_data(as_text=True)
    assert 'value="ar" checked' in client.get(url).get_data(as_text=True)  # nothing of it written
    revision = html.unescape(re.findall(r'name="revision" value="([^"]+)"', theirs)[0])
    cleared = other.post(url, data={"csrf_token": csrf(theirs), "revision": revision, "sprachen": ["de"]})
    assert cleared.status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert 'value="ar" checked' not in after and f'value="{term["Sprache"]}" checked' not in after


def test_an_admin_opens_any_organisation(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "admin.orgs", "Ada O.", Role.ADMIN, WITTEN)
    org = directory.org_named(_home(directory))
    admin = signed_in(web_app, "admin.orgs")
    assert admin.get(f"/pflege/organisationen/{org}").status_code == 200
    assert admin.get("/pflege/organisationen/00000000-0000-4000-8000-000000000000").status_code == 404
