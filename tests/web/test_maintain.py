"""Verzeichnis pflegen in the browser application: a maintainer of an organisation finds its offers and what
is due, confirms, edits an offer's details (a concurrent save shown side by side and settled field by field)
and its opening hours (several ranges a day, nach Vereinbarung, holidays, a temporary closure), and a case
manager's search shows the change at once."""

import html
import re
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_web.entrypoints.web import local_time

from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import add_user, csrf, signed_in


def maintained_offer(directory: Directory) -> tuple[str, str, str]:
    """A new organisation (its name) with one offer (its id, name) open Mondays 09:00 to 12:00."""
    entries = directory.container.entries
    name = f"Beratungszentrum {uuid.uuid4().hex[:6]} (Test)"
    org = entries.create(ADMIN, "organization", {"name": name, "description": "Migrationsberatung"}).values
    offer_name = f"Sprechstunde Aufenthalt {uuid.uuid4().hex[:6]}"
    offer = entries.create(
        ADMIN,
        "service",
        {"organization_id": org["id"], "name": offer_name, "status": "active", "description": "Beratung"},
    ).values
    entries.create(
        ADMIN,
        "schedule",
        {"service_id": offer["id"], "freq": "WEEKLY", "byday": "MO", "opens_at": "09:00", "closes_at": "12:00"},
    )
    return name, str(offer["id"]), offer_name


def _form(page: str) -> dict[str, Any]:
    """The values an edit page's form would send as it is shown."""
    fields: dict[str, Any] = {"csrf_token": csrf(page)}
    for name, value in re.findall(
        r'<input class="kern-form-input__input" id="[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"', page
    ):
        fields[name] = html.unescape(value)
    for name, value in re.findall(
        r'<textarea class="kern-form-input__input" id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page
    ):
        fields[name] = html.unescape(value)
    fields["revision"] = _revision_in(page)
    settling = re.search(r'name="konflikt" value="([^"]*)"', page)
    if settling:
        fields["konflikt"] = settling.group(1)
    fields["status"] = "active"
    return fields


def _maintainer(web_app: Flask, directory: Directory, org: str, login: str) -> FlaskClient:
    add_user(directory, login, "Mara P.", Role.MAINTAINER, org)
    return signed_in(web_app, login)


def test_a_maintainer_finds_the_offers_confirms_what_is_due_and_edits_an_offer(
    web_app: Flask, directory: Directory
) -> None:
    org, offer, offer_name = maintained_offer(directory)
    client = _maintainer(web_app, directory, org, f"pflege.{uuid.uuid4().hex[:6]}")
    overview = client.get("/pflege").get_data(as_text=True)
    assert offer_name in overview and "Zu bestätigen (2)" in overview  # the organisation and its offer
    assert "Heute:" in overview
    confirmed = client.post(f"/pflege/bestaetigen/services/{offer}", data={"csrf_token": csrf(overview)})
    after = client.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "Das Angebot ist als aktuell bestätigt." in after and "Zu bestätigen (1)" in after

    page = client.get(f"/pflege/angebote/{offer}").get_data(as_text=True)
    form = _form(page) | {"description": "Beratung zu Aufenthalt und Familiennachzug", "minimum_age": "16"}
    form["legal_domains"] = ["AUFENTHG"]
    saved = client.post(f"/pflege/angebote/{offer}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Die Änderungen sind gespeichert." in page
    assert "Beschreibung geändert (Beratung → Beratung zu Aufenthalt und Familiennachzug)" in page  # the history
    stored = directory.container.entries.get(ADMIN, "service", offer).values
    assert stored["minimum_age"] == 16 and stored["legal_domains"] == ["AUFENTHG"]

    bad = client.post(
        f"/pflege/angebote/{offer}", data=_form(page) | {"name": "", "url": "beispiel.de", "maximum_age": "alt"}
    )
    shown = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Geben Sie einen Namen ein." in shown and 'href="#maximum_age"' in shown
    assert directory.container.entries.get(ADMIN, "service", offer).values["name"] == offer_name  # nothing written
    url = client.post(f"/pflege/angebote/{offer}", data=_form(page) | {"url": "beispiel.de"})
    assert url.status_code == 400 and "https://" in url.get_data(as_text=True)

    case_manager = signed_in(web_app, "cm.witten")
    assert case_manager.get("/pflege").status_code == 404
    assert case_manager.get(f"/pflege/angebote/{offer}").status_code == 404
    stranger_org, _, _ = maintained_offer(directory)
    stranger = _maintainer(web_app, directory, stranger_org, f"fremd.{uuid.uuid4().hex[:6]}")
    assert offer_name not in stranger.get("/pflege").get_data(as_text=True)
    other_page = stranger.get(f"/pflege/angebote/{offer}").get_data(as_text=True)
    refused = stranger.post(f"/pflege/angebote/{offer}", data=_form(other_page) | {"name": "Übernommen"})
    assert refused.status_code == 404, re.findall(r"kern-error.*", refused.get_data(as_text=True))
    assert directory.container.entries.get(ADMIN, "service", offer).values["name"] == offer_name


def test_a_concurrent_edit_is_shown_side_by_side_and_settled_field_by_field(
    web_app: Flask, directory: Directory
) -> None:
    org, offer, offer_name = maintained_offer(directory)
    first = _maintainer(web_app, directory, org, f"pflege.a.{uuid.uuid4().hex[:6]}")
    second = _maintainer(web_app, directory, org, f"pflege.b.{uuid.uuid4().hex[:6]}")
    mine = _form(first.get(f"/pflege/angebote/{offer}").get_data(as_text=True))
    theirs = _form(second.get(f"/pflege/angebote/{offer}").get_data(as_text=True))
    assert (
        second.post(f"/pflege/angebote/{offer}", data=theirs | {"name": "Sprechstunde Aufenthaltsrecht"}).status_code
        == 302
    )

    conflict = first.post(f"/pflege/angebote/{offer}", data=mine | {"description": "Auch samstags"})
    page = conflict.get_data(as_text=True)
    assert conflict.status_code == 409, page
    assert "Jemand hat das Angebot inzwischen geändert" in page
    row = re.search(r"<th scope=\"row\" class=\"kern-table__cell\">Name des Angebots</th>(.*?)</tr>", page, re.S)
    assert row and offer_name in row.group(1) and "Sprechstunde Aufenthaltsrecht" in row.group(1)
    assert 'value="konflikt"' not in page and 'name="konflikt" value="name,description"' in page

    settle = _form(page) | {"wahl_name": "gespeichert"}
    unsettled = first.post(f"/pflege/angebote/{offer}", data=settle)
    assert unsettled.status_code == 400 and "Wählen Sie, welche Fassung gelten soll." in unsettled.get_data(
        as_text=True
    )
    done = first.post(f"/pflege/angebote/{offer}", data=settle | {"wahl_description": "meine"})
    assert done.status_code == 302, done.get_data(as_text=True)
    stored = directory.container.entries.get(ADMIN, "service", offer).values
    assert stored["name"] == "Sprechstunde Aufenthaltsrecht" and stored["description"] == "Auch samstags"


def test_opening_hours_with_a_break_a_closure_and_appointments_reach_the_case_managers_search(
    web_app: Flask, directory: Directory
) -> None:
    org, offer, offer_name = maintained_offer(directory)
    client = _maintainer(web_app, directory, org, f"pflege.{uuid.uuid4().hex[:6]}")
    page = client.get(f"/pflege/angebote/{offer}/oeffnungszeiten").get_data(as_text=True)
    assert "Montag: 09:00 bis 12:00 Uhr" in page and "Dienstag: geschlossen" in page  # the preview
    revision = _revision_in(page)
    today = local_time.today()  # the day the pages and the directory show (Berlin's)
    every_day = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    form: dict[str, Any] = {
        "csrf_token": csrf(page),
        "revision": revision,
        "zeilen": "3",
        "tage_0": every_day,
        "von_0": "08:00",
        "bis_0": "12:00",
        "tage_1": every_day,
        "von_1": "13:00",
        "bis_1": "16:30",
        "nach_vereinbarung": "1",
        "feiertage": "1",
        "schliessungen": "1",
        "schliessung_von_0": (today + timedelta(days=1)).isoformat(),
        "schliessung_bis_0": (today + timedelta(days=14)).isoformat(),
        "schliessung_grund_0": "Betriebsferien",
    }
    preview = client.post(f"/pflege/angebote/{offer}/oeffnungszeiten", data=form | {"aktion": "vorschau"})
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Montag: 08:00 bis 12:00 und 13:00 bis 16:30 Uhr" in shown
    assert "Vorübergehend geschlossen vom" in shown and "(Betriebsferien)" in shown
    added = client.post(f"/pflege/angebote/{offer}/oeffnungszeiten", data=form | {"aktion": "zeile"})
    assert 'name="zeilen" value="4"' in added.get_data(as_text=True)  # one more empty range to fill

    wrong = client.post(
        f"/pflege/angebote/{offer}/oeffnungszeiten",
        data=form | {"aktion": "speichern", "bis_1": "12:30", "von_1": "13:00"},
    )
    assert wrong.status_code == 400 and "Die Schließzeit muss nach der Öffnungszeit liegen." in wrong.get_data(
        as_text=True
    )
    mangled = client.post(
        f"/pflege/angebote/{offer}/oeffnungszeiten", data=form | {"zeilen": "viele", "aktion": "vorschau"}
    )
    assert mangled.status_code == 200  # a form with a broken row count shows no rows, and no 500
    saved = client.post(f"/pflege/angebote/{offer}/oeffnungszeiten", data=form | {"aktion": "speichern"})
    assert saved.status_code == 302, saved.get_data(as_text=True)

    case_manager = signed_in(web_app, "cm.witten")
    found = case_manager.get("/angebote", query_string={"q": offer_name}).get_data(as_text=True)
    assert "08:00 bis 12:00 und 13:00 bis 16:30 Uhr, sonst nach Vereinbarung" in found
    details = case_manager.get(f"/angebote/{offer}").get_data(as_text=True)
    assert "Vorübergehend geschlossen vom" in details and "Betriebsferien" in details

    closed_today = form | {
        "aktion": "speichern",
        "schliessung_von_0": today.isoformat(),
        "revision": _revision(client, offer),
    }
    assert client.post(f"/pflege/angebote/{offer}/oeffnungszeiten", data=closed_today).status_code == 302
    found = case_manager.get("/angebote", query_string={"q": offer_name}).get_data(as_text=True)
    until = (today + timedelta(days=14)).strftime("%d.%m.%Y")
    assert f"vorübergehend geschlossen bis {until}, Betriebsferien" in found

    stale = client.post(f"/pflege/angebote/{offer}/oeffnungszeiten", data=form | {"aktion": "speichern"})
    assert stale.status_code == 409  # the revision read before two saves
    shown = stale.get_data(as_text=True)
    assert "Inzwischen gespeichert" in shown and "Meine Eingabe speichern" in shown


def _revision(client: FlaskClient, offer: str) -> str:
    return _revision_in(client.get(f"/pflege/angebote/{offer}/oeffnungszeiten").get_data(as_text=True))


def _revision_in(page: str) -> str:
    found = re.search(r'name="revision" value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def test_every_other_field_of_an_entry_is_edited_on_its_own_page(web_app: Flask, directory: Directory) -> None:
    org, offer, _ = maintained_offer(directory)
    client = _maintainer(web_app, directory, org, "pflege.alles")
    url = f"/pflege/alle-angaben/services/{offer}"
    page = client.get(url).get_data(as_text=True)
    for field in ("accreditations", "licenses", "alert", "assured_date", "minimum_age"):
        assert f"<code>{field}</code>" in page
    assert "verified_by" not in page and 'id="organization_id"' not in page  # set elsewhere
    read = html.unescape(re.findall(r'name="gelesen" value="([^"]*)"', page)[0])
    form = {"csrf_token": csrf(page), "revision": _revision_in(page), "gelesen": read, "status": "active"}
    inputs = r'<input class="kern-form-input__input" id="[^"]+" name="([^"]+)" type="[^"]+"(?: inputmode="decimal")?'
    fields = dict(re.findall(inputs + r' value="([^"]*)"', page))
    wrong = client.post(url, data={**form, **fields, "minimum_age": "zwölf"})
    assert wrong.status_code == 400 and "Geben Sie eine Zahl ein." in wrong.get_data(as_text=True)
    saved = client.post(url, data={**form, **fields, "alert": "Im Dezember nur dienstags", "minimum_age": "12"})
    assert saved.status_code == 302, re.findall(
        r"kern-error[^>]*>(?:<span class=\"kern-icon[^>]*></span>)?<span class=\"kern-body\">([^<]+)",
        saved.get_data(as_text=True),
    )
    stored, _ = directory.container.entries.get(ADMIN, "service", offer).values, None
    assert stored["alert"] == "Im Dezember nur dienstags" and stored["minimum_age"] == 12
    again = client.get(url).get_data(as_text=True)
    assert "alert geändert" in again  # the history, by the field's name

    late = client.post(url, data={**form, **fields, "alert": "Ganzjährig"})  # built from the first revision
    shown = late.get_data(as_text=True)
    assert late.status_code == 409 and "Im Dezember nur dienstags" in shown
    assert directory.container.entries.get(ADMIN, "service", offer).values["alert"] == "Im Dezember nur dienstags"
    assert signed_in(web_app, "cm.witten").get(url).status_code == 404


def test_an_offers_entries_of_their_own_are_added_and_deleted_and_the_offer_too(
    web_app: Flask, directory: Directory
) -> None:
    org, offer, _ = maintained_offer(directory)
    client = _maintainer(web_app, directory, org, "pflege.unterlagen")
    page = client.get(f"/pflege/alle-angaben/services/{offer}").get_data(as_text=True)
    assert "Mitzubringende Unterlage (0)" in page and "Einzugsgebiet (0)" in page
    [add] = re.findall(r'href="(/pflege/alle-angaben/required_documents/neu\?[^"]+)"', page)
    form = client.get(html.unescape(add)).get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="(feld|zu)" value="([^"]+)"', form))
    programme = {"csrf_token": csrf(form), "feld": "organization_id", "zu": directory.org_named(org), "name": "Lotsen"}
    empty = client.post("/pflege/alle-angaben/programs/neu", data=programme)  # a programme needs a description
    assert empty.status_code == 400 and "Diese Angabe ist nötig." in empty.get_data(as_text=True)
    made = client.post(
        "/pflege/alle-angaben/required_documents/neu",
        data={"csrf_token": csrf(form), **hidden, "document": "Aufenthaltstitel"},
    )
    assert made.status_code == 302
    page = client.get(f"/pflege/alle-angaben/services/{offer}").get_data(as_text=True)
    assert "Mitzubringende Unterlage (1)" in page and ">Aufenthaltstitel</a>" in page
    case_manager = signed_in(web_app, "cm.witten").get(f"/angebote/{offer}").get_data(as_text=True)
    assert "Aufenthaltstitel" in case_manager  # "Mitbringen" on the offer's page

    document = made.headers["Location"]
    shown = client.get(document).get_data(as_text=True)
    gone = client.post(f"{document}/entfernen", data={"csrf_token": csrf(shown)})
    assert gone.headers["Location"] == f"/pflege/alle-angaben/services/{offer}"
    assert "Mitzubringende Unterlage (0)" in client.get(gone.headers["Location"]).get_data(as_text=True)

    removed = client.post(f"/pflege/alle-angaben/services/{offer}/entfernen", data={"csrf_token": csrf(shown)})
    assert removed.status_code == 302 and "ist gelöscht" in client.get(removed.headers["Location"]).get_data(
        as_text=True
    )
    assert client.get(f"/pflege/angebote/{offer}").status_code == 404
    assert (
        client.post(
            f"/pflege/alle-angaben/organizations/{offer}/entfernen", data={"csrf_token": csrf(shown)}
        ).status_code
        == 404
    )
