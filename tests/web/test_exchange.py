"""Importieren und exportieren in the browser application: a maintainer downloads the organisation's entries
as HSDS JSON and as the CSV data package, uploads a file with a bad row and reads every problem with nothing
taken over, then a good file and reads what it created; the package exported re-imports unchanged."""

import io
import json
import uuid
from typing import Any

from flask import Flask
from lotse_contracts import Role

from tests.routing.conftest import ADMIN, Directory
from tests.web.conftest import add_user, csrf, signed_in
from tests.web.test_maintain import maintained_offer


def _upload(client: Any, data: bytes, name: str) -> Any:
    page = client.get("/pflege/import").get_data(as_text=True)
    return client.post(
        "/pflege/import",
        data={"csrf_token": csrf(page), "datei": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_a_maintainer_exports_imports_a_file_with_bad_rows_and_then_a_good_one(
    web_app: Flask, directory: Directory
) -> None:
    org, _, offer_name = maintained_offer(directory)
    add_user(directory, f"pflege.{org[-11:-7]}", "Mara P.", Role.MAINTAINER, org)
    client = signed_in(web_app, f"pflege.{org[-11:-7]}")

    exported = client.get("/pflege/export.json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = json.loads(exported.data)
    assert offer_name in json.dumps(document, ensure_ascii=False) and "Jugendamt" not in exported.get_data(as_text=True)
    package = client.get("/pflege/export.zip")
    assert package.status_code == 200 and package.data[:2] == b"PK"

    new_org = str(uuid.uuid4())
    good = {"id": new_org, "name": f"Sprachcafé {new_org[:6]} (Test)", "description": "Deutsch im Gespräch"}
    bad = {"id": str(uuid.uuid4()), "organization_id": new_org, "name": "Ohne Status"}  # a service needs one
    refused = _upload(client, json.dumps([good, {**bad, "status": "irgendwie"}]).encode(), "verzeichnis.json")
    shown = refused.get_data(as_text=True)
    assert refused.status_code == 422, shown
    assert "Nichts wurde übernommen" in shown and "status" in shown
    assert directory.container.entries.page(ADMIN, "organization", {"id": new_org}, 1, 1)[1] == 0

    taken = _upload(client, json.dumps([good, {**bad, "status": "active"}]).encode(), "verzeichnis.json")
    shown = taken.get_data(as_text=True)
    assert taken.status_code == 200, shown
    assert "Die Datei ist übernommen" in shown and "2 neu angelegt" in shown
    assert '<th scope="row" class="kern-table__cell">Angebote</th><td class="kern-table__cell">1</td>' in shown
    assert directory.container.entries.get(ADMIN, "organization", new_org).values["name"] == good["name"]

    again = _upload(client, package.data, "verzeichnis.zip")
    assert again.status_code == 200 and "0 neu angelegt, 0 geändert" in again.get_data(as_text=True), again.get_data(
        as_text=True
    )[-3000:]
    empty = _upload(client, b"", "leer.json")
    assert empty.status_code == 400 and "Wählen Sie eine Datei aus" in empty.get_data(as_text=True)
    assert signed_in(web_app, "cm.witten").get("/pflege/import").status_code == 404
