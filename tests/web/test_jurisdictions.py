"""Zuständigkeiten in the browser application: a maintainer who keeps the Ennepe-Ruhr-Kreis previews and
declares who is responsible in Witten; since it takes over where the Kreis's body is responsible today, it is
a proposal until a second keeper confirms it, and then a case manager's "Wer ist zuständig?" names the new
body. Who keeps no region does not get the page."""

import re
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from lotse_contracts import Role

from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import KI_EN, add_user, csrf, signed_in

KREIS = "05954"


@pytest.fixture
def authority(directory: Directory) -> Iterator[str]:
    """A new body that may be declared responsible for naturalisation (StAG); its jurisdictions go with it."""
    name = f"Einbürgerung der Stadt Witten {uuid.uuid4().hex[:4]} (Test)"
    org = directory.container.entries.create(
        ADMIN, "organization", {"name": name, "description": "Einbürgerung", "authority_for": ["STAG"]}
    )
    yield name
    directory.container.entries.delete(ADMIN, "organization", str(org.values["id"]), "*")


def _form(page: str, **given: str) -> dict[str, str]:
    return {"csrf_token": csrf(page), "geprueft": "2026-12-01", "quelle": "§ 1 StAGZustVO NRW", **given}


def test_a_keeper_proposes_a_second_confirms_and_who_is_responsible_changes(
    web_app: Flask, directory: Directory, authority: str
) -> None:
    add_user(directory, "kim.eins", "Kai E.", Role.MAINTAINER, KI_EN, regions=(KREIS,))
    add_user(directory, "kim.zwei", "Zoe Z.", Role.MAINTAINER, KI_EN, regions=(KREIS,))
    first, second = signed_in(web_app, "kim.eins"), signed_in(web_app, "kim.zwei")
    page = first.get("/pflege/zustaendigkeiten").get_data(as_text=True)
    assert "Sie pflegen die Region Ennepe-Ruhr-Kreis." in page
    assert "Einbürgerungsbehörde Ennepe-Ruhr-Kreis (Demo)" in page  # the Kreis's body, listed
    [ident] = re.findall(rf'<option value="([0-9a-f-]+)">{re.escape(authority)}</option>', page)

    wrong = first.post(
        "/pflege/zustaendigkeiten",
        data=_form(page, aktion="vorschau", rechtskreis="SGB_II", stelle=ident, region="Atlantis", plz="123"),
    )
    shown = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    for message in ("eine des gewählten Rechtskreises", "kennen wir nicht", "fünfstellige Postleitzahlen"):
        assert message in shown

    given = {"rechtskreis": "STAG", "stelle": ident, "region": "Witten"}
    preview = first.post("/pflege/zustaendigkeiten", data=_form(page, aktion="vorschau", **given)).get_data(
        as_text=True
    )
    assert "Vorschau für Witten, Ennepe-Ruhr-Kreis" in preview
    assert "Heute zuständig: <strong>Einbürgerungsbehörde Ennepe-Ruhr-Kreis (Demo)</strong>" in preview
    assert "Überschneidung" in preview and "als Vorschlag gespeichert" in preview

    saved = first.post("/pflege/zustaendigkeiten", data=_form(page, aktion="speichern", **given))
    listed = first.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Gespeichert als Vorschlag" in listed and "Vorschlag von Kai E., wartet auf Bestätigung" in listed
    [proposal] = re.findall(r'action="/pflege/zustaendigkeiten/([0-9a-f-]+)/bestaetigen"', listed)
    own = first.post(f"/pflege/zustaendigkeiten/{proposal}/bestaetigen", data={"csrf_token": csrf(listed)})
    assert "nicht wer ihn gemacht hat" in first.get(own.headers["Location"]).get_data(as_text=True)

    case_manager = signed_in(web_app, "cm.witten")
    question = {"frage": "1", "rechtskreis": "STAG", "ort": "58452"}
    assert authority not in case_manager.get("/zustaendigkeit", query_string=question).get_data(as_text=True)

    page = second.get("/pflege/zustaendigkeiten").get_data(as_text=True)
    confirmed = second.post(f"/pflege/zustaendigkeiten/{proposal}/bestaetigen", data={"csrf_token": csrf(page)})
    assert "Der Vorschlag ist bestätigt" in second.get(confirmed.headers["Location"]).get_data(as_text=True)
    deadline = time.monotonic() + 10  # routing reads the directory again after its cache's second
    while authority not in (
        answer := case_manager.get("/zustaendigkeit", query_string=question).get_data(as_text=True)
    ):
        assert time.monotonic() < deadline, answer
        time.sleep(0.3)


def test_only_those_who_keep_a_region_and_admins_keep_jurisdictions(web_app: Flask, directory: Directory) -> None:
    add_user(directory, "pflege.ohne", "Ole O.", Role.MAINTAINER, KI_EN)
    assert signed_in(web_app, "pflege.ohne").get("/pflege/zustaendigkeiten").status_code == 404
    assert signed_in(web_app, "cm.witten").get("/pflege/zustaendigkeiten").status_code == 404


def test_a_keeper_narrows_a_jurisdiction_and_who_is_responsible_follows(
    web_app: Flask, directory: Directory, authority: str
) -> None:
    add_user(directory, "kim.hamburg", "Hanna H.", Role.MAINTAINER, KI_EN, regions=("02",))
    keeper = signed_in(web_app, "kim.hamburg")
    page = keeper.get("/pflege/zustaendigkeiten").get_data(as_text=True)
    [ident] = re.findall(rf'<option value="([0-9a-f-]+)">{re.escape(authority)}</option>', page)
    given = {"rechtskreis": "STAG", "stelle": ident, "region": "Hamburg"}
    saved = keeper.post("/pflege/zustaendigkeiten", data=_form(page, aktion="speichern", **given))
    listed = keeper.get(saved.headers["Location"]).get_data(as_text=True)
    assert f"{authority} ist jetzt zuständig" in listed
    [row] = re.findall(r'href="/pflege/zustaendigkeiten/([0-9a-f-]+)">Ändern', listed)

    form = keeper.get(f"/pflege/zustaendigkeiten/{row}").get_data(as_text=True)
    assert "Zuständigkeit ändern" in form and 'value="02000000"' in form
    [revision] = re.findall(r'name="revision" value="([^"]+)"', form)
    narrowed = {**given, "region": "02000000", "plz": "20095", "revision": revision.replace("&#34;", '"')}
    preview = keeper.post(f"/pflege/zustaendigkeiten/{row}", data=_form(form, aktion="vorschau", **narrowed))
    assert preview.status_code == 200 and "Vorschau für Hamburg" in preview.get_data(as_text=True)
    changed = keeper.post(f"/pflege/zustaendigkeiten/{row}", data=_form(form, aktion="speichern", **narrowed))
    assert "Die Zuständigkeit ist geändert" in keeper.get(changed.headers["Location"]).get_data(as_text=True)

    case_manager = signed_in(web_app, "cm.witten")
    deadline = time.monotonic() + 10  # routing reads the directory again after its cache's second
    while authority in case_manager.get(
        "/zustaendigkeit", query_string={"frage": "1", "rechtskreis": "STAG", "ort": "22767"}
    ).get_data(as_text=True):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    inside = {"frage": "1", "rechtskreis": "STAG", "ort": "20095"}
    assert authority in case_manager.get("/zustaendigkeit", query_string=inside).get_data(as_text=True)

    stale = keeper.post(f"/pflege/zustaendigkeiten/{row}", data=_form(form, aktion="speichern", **narrowed))
    assert stale.status_code == 409 and "inzwischen geändert" in stale.get_data(as_text=True)
    form = keeper.get(f"/pflege/zustaendigkeiten/{row}").get_data(as_text=True)
    [revision] = re.findall(r'name="revision" value="([^"]+)"', form)
    kreis_body = re.findall(r'<option value="([0-9a-f-]+)">Einbürgerungsbehörde Ennepe-Ruhr-Kreis', form)[0]
    other = {**narrowed, "stelle": kreis_body, "revision": revision.replace("&#34;", '"')}
    taken = keeper.post(f"/pflege/zustaendigkeiten/{row}", data=_form(form, aktion="speichern", **other))
    assert taken.status_code == 409 and "als neue Zuständigkeit an" in taken.get_data(as_text=True)
    assert signed_in(web_app, "cm.witten").get(f"/pflege/zustaendigkeiten/{row}").status_code == 404
