"""Bulk import and export: the HSDS 3.0 examples round-trip, exports validate, broken files write nothing."""

import csv
import io
import json
import os
import pickle
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from lotse_contracts import Role
from lotse_directory.bootstrap import Container, build
from lotse_directory.settings import Settings
from lotse_directory.use_cases.demo import demo_document
from lotse_directory.use_cases.exchange import flatten_json
from lotse_directory.use_cases.search_documents import build_documents
from lotse_kit.schema_errors import event_validator
from sqlalchemy import text as sql

from tests.directory.conftest import FIXTURES, Api

EXAMPLES = FIXTURES / "hsds-examples"
COMPILED = Path(resources.files("lotse_directory").joinpath("data", "hsds", "schema", "compiled"))  # type: ignore[arg-type]


@cache
def compiled(name: str) -> Draft202012Validator:
    path = COMPILED / f"{name}.json"
    if not path.exists():
        pytest.fail(f"HSDS compiled schemas not found at {COMPILED}")
    return Draft202012Validator(json.loads(path.read_text()))


def _normal(value: Any) -> Any:
    """Content only: no nulls, no empty lists, arrays of objects in id order."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        return sorted(items, key=lambda v: v.get("id", "") if isinstance(v, dict) else str(v))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def _content(document: Any) -> dict[str, dict[str, Any]]:
    """Every entry a JSON document holds, flat, wherever it was nested: its content."""
    rows, _, errors = flatten_json(document)
    assert not errors, errors
    return {e: {i: _normal(r) for i, r in by_id.items()} for e, by_id in rows.items()}


JSON_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json") if p.name != "tabular.json")
"""The examples in the HSDS JSON form; tabular.json (the CSV tables as JSON) round-trips through the CSV export:
its attribute, metadata and table description link to nothing in it, so the JSON form has no place for them."""


def test_every_json_example_of_the_standard_is_tested() -> None:
    assert len(JSON_EXAMPLES) == 12 and {"base.json", "taxonomy_list.json"} <= set(JSON_EXAMPLES)
    assert (EXAMPLES / "tabular.json").exists()  # test_the_tabular_json_example_round_trips_through_the_csv_export


@pytest.mark.parametrize("example", JSON_EXAMPLES)
def test_hsds_json_example_imports_without_loss_and_exports_equal_in_content(api: Api, example: str) -> None:
    """Each example of the standard (single objects of every top-level type, paged lists, the API root) into
    an empty directory, then out again: every entry equal, field by field."""
    document = _example(example)
    response = api.client.post("/api/v1/import", json=document, headers=api.admin())
    assert response.status_code == 200, response.json
    exported = api.client.get("/api/v1/export", headers=api.admin()).json
    expected = _content(document)
    assert (example == "base.json") == (not expected)  # only the API root holds no entries
    got = _content(exported)
    assert got.keys() == expected.keys()
    for entity, by_id in expected.items():
        for ident, fields in by_id.items():
            assert got[entity][ident] == fields, (entity, ident)


def test_times_are_exported_as_they_were_imported(sqlite_api: Api) -> None:
    location = _example("location.json")
    assert location["schedules"][0]["opens_at"] == "10:00"  # HH:MM, where the other examples write HH:MM:SS
    assert sqlite_api.client.post("/api/v1/import", json=location, headers=sqlite_api.admin()).status_code == 200
    exported = sqlite_api.client.get("/api/v1/export", headers=sqlite_api.admin()).json
    assert exported["locations"][0]["schedules"][0]["opens_at"] == "10:00"
    package = sqlite_api.client.get("/api/v1/export?format=csv", headers=sqlite_api.admin()).data
    schedules = zipfile.ZipFile(io.BytesIO(package)).read("schedules.csv").decode()
    assert [r["opens_at"] for r in csv.DictReader(io.StringIO(schedules))] == ["10:00"]


def test_a_page_of_another_hsds_api_is_imported_and_says_it_is_one_page(sqlite_api: Api) -> None:
    page = _example("service_list.json")
    response = sqlite_api.client.post("/api/v1/import", json=page, headers=sqlite_api.admin())
    assert response.status_code == 200 and response.json["created"]["service"] == 1
    assert response.json["warnings"][0] == {
        "name": "$.contents",
        "reason": "page 1 of 10: only this page's entries were read; fetch and import the others too",
    }
    broken = {**page, "contents": [{**page["contents"][0], "colour": "blau"}]}
    response = sqlite_api.client.post("/api/v1/import", json=broken, headers=sqlite_api.admin())
    assert response.status_code == 422
    assert response.json["errors"] == [{"name": "$.contents[0].colour", "reason": "is not a field of service"}]
    # a location a page gives without its address is not taken for a German one, but reported
    sal_page = _example("service_at_location_list.json")
    response = sqlite_api.client.post("/api/v1/import", json=sal_page, headers=sqlite_api.admin())
    assert response.status_code == 200, response.json
    assert {
        "name": "$.contents[0].location.latitude",
        "reason": "(100, 101) is not inside Germany, and no address says where it is",
    } in response.json["warnings"]


def test_each_top_level_type_is_recognised_by_its_shape() -> None:
    from lotse_directory.use_cases.exchange import entity_of

    assert entity_of(_example("taxonomy.json")) == "taxonomy"
    assert entity_of(_example("taxonomy_term.json")) == "taxonomy_term"
    assert entity_of(_example("location.json")) == "location"
    assert entity_of(_example("service_full.json")) == "service"
    assert entity_of(_example("organization_full.json")) == "organization"
    assert entity_of(_example("service_at_location_full.json")) == "service_at_location"
    assert entity_of({"id": "x", "name": "Caritas", "description": "Beratung"}) == "organization"


def _csv_rows(files: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    out = {}
    for name, text in files.items():
        if name.endswith(".csv"):
            rows = [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(io.StringIO(text))]
            if rows:
                out[name] = sorted(rows, key=lambda r: r["id"])
    return out


def test_the_tabular_json_example_round_trips_through_the_csv_export(sqlite_api: Api) -> None:
    tables = _example("tabular.json")
    response = sqlite_api.client.post("/api/v1/import", json=tables, headers=sqlite_api.admin())
    assert response.status_code == 200, response.json
    exported = sqlite_api.client.get("/api/v1/export?format=csv", headers=sqlite_api.admin())
    archive = zipfile.ZipFile(io.BytesIO(exported.data))
    files = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".csv")}
    expected = {
        name: sorted(({k: str(v) for k, v in r.items() if v not in ("", None)} for r in rows), key=lambda r: r["id"])
        for name, rows in tables.items()
        if rows
    }
    assert _csv_rows(files) == expected
    org = {"id": str(uuid.uuid4()), "name": "Org", "description": "d"}
    broken = {"organizations.csv": [{**org, "year_incorporated": "zwei"}, {**org, "id": str(uuid.uuid4()), "x": 1}]}
    response = sqlite_api.client.post("/api/v1/import", json=broken, headers=sqlite_api.admin())
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"name": "$['organizations.csv'].x", "reason": "is not a field of organization"},
        {"name": "$['organizations.csv'][0].year_incorporated", "reason": "must be a number"},
    ]


def test_hsds_csv_example_package_round_trips(sqlite_api: Api) -> None:
    originals = {p.name: p.read_text() for p in (EXAMPLES / "csv").glob("*.csv")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in originals.items():
            archive.writestr(name, text)
    response = sqlite_api.client.post(
        "/api/v1/import", data=buffer.getvalue(), content_type="application/zip", headers=sqlite_api.admin()
    )
    assert response.status_code == 200, response.json
    assert response.json["warnings"], "the example refers to entries it does not contain; that is reported"
    exported = sqlite_api.client.get("/api/v1/export?format=csv", headers=sqlite_api.admin())
    files = {
        n: zipfile.ZipFile(io.BytesIO(exported.data)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(exported.data)).namelist()
    }
    assert "datapackage.json" in files
    assert _csv_rows(files) == _csv_rows(originals)


def test_export_validates_against_hsds_compiled_schemas(sqlite_api: Api) -> None:
    home = sqlite_api.create("organizations", {"name": "KI (Test)", "description": "x"})
    maintainer = sqlite_api.token(Role.MAINTAINER, home["id"])
    org = sqlite_api.create(
        "organizations",
        {"name": "Diakonie Hattingen (Test)", "description": "Beratung", "legal_domains": ["SGB_II"]},
        maintainer,
    )
    service = sqlite_api.create(
        "services", {"organization_id": org["id"], "name": "Sprachcafé", "status": "active"}, maintainer
    )
    location = sqlite_api.create(
        "locations",
        {
            "organization_id": org["id"],
            "location_type": "physical",
            "name": "Treff",
            "latitude": 51.39,
            "longitude": 7.18,
        },
        maintainer,
    )
    sqlite_api.create(
        "addresses",
        {
            "location_id": location["id"],
            "address_1": "Demostraße 1",
            "city": "Hattingen",
            "state_province": "NRW",
            "postal_code": "45525",
            "country": "DE",
            "address_type": "physical",
        },
        maintainer,
    )
    sqlite_api.create("service_at_locations", {"service_id": service["id"], "location_id": location["id"]}, maintainer)
    sqlite_api.create(
        "schedules",
        {
            "service_id": service["id"],
            "freq": "WEEKLY",
            "byday": "TU",
            "opens_at": "15:00",
            "closes_at": "17:00",
            "closed_on_public_holidays": True,
        },
        maintainer,
    )
    sqlite_api.create("languages", {"service_id": service["id"], "code": "uk", "name": "Українська"}, maintainer)
    exported = sqlite_api.client.get(f"/api/v1/export?organization_id={org['id']}", headers=maintainer).json
    assert [o["id"] for o in exported["organizations"]] == [org["id"]]
    for o in exported["organizations"]:
        assert not [e.message for e in compiled("organization").iter_errors(o)]
        for s in o["services"]:
            assert not [e.message for e in compiled("service").iter_errors(s)]
    services = exported["organizations"][0]["services"]
    assert len(services) == 1
    assert services[0]["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] == "45525"


def test_broken_csv_row_is_reported_with_line_and_field_and_nothing_is_written(sqlite_api: Api) -> None:
    organizations = (
        "id,name,description,year_incorporated\n"
        "8a0c8a7e-7a11-4a3b-9d3e-0c1f8f1d1a01,Gute Org,gut,2001\n"
        "8a0c8a7e-7a11-4a3b-9d3e-0c1f8f1d1a02,Schlechte Org,,zweitausend\n"
    )
    addresses = (
        "id,location_id,address_1,city,state_province,postal_code,country,address_type\n"
        "8a0c8a7e-7a11-4a3b-9d3e-0c1f8f1d1a03,,Demostraße 1,Witten,NRW,5845,DE,physical\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("organizations.csv", organizations)
        archive.writestr("addresses.csv", addresses)
    response = sqlite_api.client.post(
        "/api/v1/import", data=buffer.getvalue(), content_type="application/zip", headers=sqlite_api.admin()
    )
    assert response.status_code == 422
    names = {e["name"] for e in response.json["errors"]}
    assert "organizations.csv:3:year_incorporated" in names
    assert "organizations.csv:3:description" in names
    assert "addresses.csv:2:postal_code" in names
    listing = sqlite_api.client.get("/api/v1/organizations", headers=sqlite_api.admin()).json
    assert listing["total_items"] == 0


def test_broken_json_entry_is_reported_with_its_path(sqlite_api: Api) -> None:
    service = _example("service_full.json")
    service["schedules"][0]["closes_at"] = "09:00:00"
    service["languages"][0]["code"] = "xx-klingonisch"
    response = sqlite_api.client.post("/api/v1/import", json=service, headers=sqlite_api.admin())
    assert response.status_code == 422
    names = {e["name"] for e in response.json["errors"]}
    assert "$.schedules[0].closes_at" in names
    assert "$.languages[0].code" in names
    assert sqlite_api.client.get("/api/v1/services", headers=sqlite_api.admin()).json["total_items"] == 0


def test_case_manager_cannot_import_or_export(sqlite_api: Api) -> None:
    headers = sqlite_api.token(Role.CASE_MANAGER, "org")
    assert sqlite_api.client.get("/api/v1/export", headers=headers).status_code == 403
    assert sqlite_api.client.post("/api/v1/import", json={}, headers=headers).status_code == 403


def test_the_examples_carry_their_licence() -> None:
    assert (EXAMPLES / "LICENSE").exists() and (COMPILED.parent.parent / "LICENSE").exists()


def test_an_import_reports_its_entries_in_one_event_per_organisation(sqlite_api: Api) -> None:
    """Not a directory.<entity>.changed event per entry: one directory.organization.imported per
    owning organisation (None: entries nobody owns), all with one import id, every entry named once."""
    document = _example("organization_full.json")
    response = sqlite_api.client.post("/api/v1/import", json=document, headers=sqlite_api.admin())
    assert response.status_code == 200, response.json
    with sqlite_api.container.engine.connect() as conn:
        rows = conn.execute(sql("SELECT event_type, routing_key, payload FROM lotse_outbox ORDER BY seq")).all()
    validator = event_validator("directory.organization.imported", 1)
    events = [json.loads(payload) for _, _, payload in rows]
    assert {t for t, _, _ in rows} == {"directory.organization.imported"}
    assert {k for _, k, _ in rows} == {"directory.organization.imported.any.any"}
    for event in events:
        validator.validate(event)
    assert len({e["data"]["import_id"] for e in events}) == 1
    orgs = [e["data"]["organization_id"] for e in events]
    assert len(orgs) == len(set(orgs)) and set(orgs) - {None} == set(_content(document)["organization"])
    named = {(entity, i) for e in events for entity, ids in e["data"]["created"].items() for i in ids}
    expected = {(entity, i) for entity, by_id in _content(document).items() for i in by_id if entity != "metadata"}
    assert named == expected

    # the same file again changes nothing and says nothing; a changed name is reported as updated
    before = len(rows)
    assert sqlite_api.client.post("/api/v1/import", json=document, headers=sqlite_api.admin()).status_code == 200
    document["name"] = document["name"] + " (neu)"
    assert sqlite_api.client.post("/api/v1/import", json=document, headers=sqlite_api.admin()).status_code == 200
    with sqlite_api.container.engine.connect() as conn:
        later = conn.execute(sql("SELECT payload FROM lotse_outbox ORDER BY seq")).scalars().all()[before:]
    assert [json.loads(p)["data"]["updated"] for p in later] == [{"organization": [document["id"]]}]


CHECKED_ALONGSIDE = """
import json, os, sys
from lotse_directory.bootstrap import build
from lotse_directory.entrypoints.cli import CLI_ADMIN
from lotse_directory.settings import Settings
from lotse_kit.errors import Invalid
from sqlalchemy import text

forks = []
def fork(real=os.fork):
    pid = real()
    if pid:
        forks.append(pid)
    return pid
os.fork = fork
container = build(Settings.from_env())
container.migrate()
container.exchange.fork_from = 0  # every file is checked by a forked child
results = []
for path in sys.argv[1:]:
    try:
        results.append(container.exchange.import_json(CLI_ADMIN, json.load(open(path))).to_dict())
    except Invalid as error:
        with container.engine.connect() as conn:
            count = lambda t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            stored = {t: count(t) for t in ("service", "search_doc")}
        results.append({"errors": sorted(v.field for v in error.violations), "stored": stored})
print(json.dumps({"forks": len(forks), "results": results}))
"""


def _run_alone(script: str, files: list[Path], var: Path) -> Any:
    """Run ``script`` on ``files`` in a fresh, single-threaded interpreter (this test process has threads,
    and then nothing forks) with its own directory in ``var``; the JSON it prints last."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_") and k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, files)],
        env={**clean, "LOTSE_VAR_DIR": str(var)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_file_checked_by_a_forked_child_imports_as_one_checked_in_process(sqlite_api: Api, tmp_path: Path) -> None:
    """Large files are checked by a forked child while their rows go in (the CLI is single-threaded):
    a broken one still has every problem reported and leaves nothing behind, a good one imports the same."""
    broken = _example("service_full.json")  # broken where the checks find it, not already when it is read
    broken["email"] = "keine Adresse"
    broken["organization"]["email"] = "auch keine"
    klingon = {"id": "a7c1b0de-0000-4000-8000-000000000001", "service_id": broken["id"], "code": "xx-klingonisch"}
    broken["languages"].append(klingon)
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    (tmp_path / "good.json").write_text(json.dumps(_example("service_full.json")))
    forked = _run_alone(CHECKED_ALONGSIDE, [tmp_path / "broken.json", tmp_path / "good.json"], tmp_path / "var")
    assert forked["forks"] == 2

    here = sqlite_api.client.post("/api/v1/import", json=broken, headers=sqlite_api.admin())
    assert here.status_code == 422
    assert forked["results"][0] == {
        "errors": sorted(e["name"] for e in here.json["errors"]),
        "stored": {"service": 0, "search_doc": 0},
    }
    good = sqlite_api.client.post("/api/v1/import", json=_example("service_full.json"), headers=sqlite_api.admin())
    assert good.status_code == 200
    assert forked["results"][1] == good.json


DOCUMENTS_FROM_THE_FILE = """
import json, sys
from lotse_directory.bootstrap import build
from lotse_directory.entrypoints.cli import CLI_ADMIN
from lotse_directory.settings import Settings
from lotse_directory.use_cases import search_indexing

read_back = []
build_documents = search_indexing.build_documents
def reading_back(session, gazetteer, ids):
    ids = list(ids)
    read_back[-1].extend(ids)
    return build_documents(session, gazetteer, ids)
search_indexing.build_documents = reading_back
container = build(Settings.from_env())
container.migrate()
container.exchange.fork_from = 0  # every file is checked, and its documents built, by a forked child
for path in sys.argv[1:]:
    read_back.append([])
    container.exchange.import_json(CLI_ADMIN, json.load(open(path)))
print(json.dumps(read_back))
"""


def _index(container: Container) -> dict[str, list[list[Any]]]:
    """The embedded index's content by offer, without document numbers."""
    queries = {
        "doc": "SELECT service_id, organization_id, verified_on, closed_on_holidays, f_legal_domain, f_topic, "
        "f_language, f_target_group FROM search_doc",
        "text": "SELECT d.service_id, t.name, t.organization, t.topics, t.roles, t.description "
        "FROM search_text t JOIN search_doc d ON d.rowid = t.rowid",
        "point": "SELECT d.service_id, lat, lon, public FROM search_point JOIN search_doc d ON d.rowid = doc",
        "region": "SELECT d.service_id, ags FROM search_region JOIN search_doc d ON d.rowid = doc",
        "hours": 'SELECT d.service_id, start, "end", valid_from, valid_to FROM search_hours JOIN search_doc d '
        "ON d.rowid = doc",
    }
    with container.engine.connect() as conn:
        return {name: sorted(list(r) for r in conn.exec_driver_sql(q)) for name, q in queries.items()}


def test_documents_built_from_the_file_equal_those_read_back(sqlite_api: Api, tmp_path: Path) -> None:
    """A large import's child builds the documents of new offers from the file; the index must hold what
    reading the rows back gives. Offers that draw on rows already in the directory are read back: one the
    directory held already, one an earlier entry referred to before it existed, those at a place it held."""
    demo = demo_document(sqlite_api.container.gazetteer)
    updated = demo["services"][0]
    organization = next(o for o in demo["organizations"] if o["id"] == updated["organization_id"])
    place = organization["locations"][0]
    referred = next(  # an offer elsewhere, named by an earlier entry
        s for s in demo["services"] if all(sal["location_id"] != place["id"] for sal in s["service_at_locations"])
    )
    held = next(  # an offer the directory held already, elsewhere (its place and provider not held)
        s
        for s in demo["services"]
        if s is not referred and all(sal["location_id"] != place["id"] for sal in s["service_at_locations"])
    )
    earlier_place = {**place, "languages": [{"id": str(uuid.uuid4()), "service_id": referred["id"], "code": "tr"}]}
    earlier = {
        "organizations": [{**organization, "locations": [earlier_place]}],
        "services": [updated, {k: v for k, v in held.items() if k != "service_at_locations"}],
        "taxonomies": demo["taxonomies"],
        "taxonomy_terms": demo["taxonomy_terms"],
    }
    later = {**demo, "services": [{**s, "name": s["name"] + " (neu)"} if s is updated else s for s in demo["services"]]}
    files = [tmp_path / "earlier.json", tmp_path / "later.json"]
    for path, document in zip(files, (earlier, later), strict=True):
        path.write_text(json.dumps(document))
    var = tmp_path / "var"
    read_back = _run_alone(DOCUMENTS_FROM_THE_FILE, files, var)

    at_the_place = {
        s["id"]
        for s in demo["services"]
        for sal in s.get("service_at_locations", [])
        if sal.get("location_id") == place["id"]
    }
    assert at_the_place - {updated["id"]}  # new offers at a place the directory held
    # the first file: the offer its language names (not one yet), and one whose provider is not in the file
    assert set(read_back[0]) == {referred["id"], held["id"]}
    assert set(read_back[1]) == {updated["id"], referred["id"], held["id"]} | at_the_place
    assert len(read_back[1]) < len(demo["services"]) / 10

    for document in (earlier, later):  # the same files, every document read back
        response = sqlite_api.client.post("/api/v1/import", json=document, headers=sqlite_api.admin())
        assert response.status_code == 200, response.json
    forked = build(Settings.from_env({"LOTSE_VAR_DIR": str(var)}))
    assert _index(forked) == _index(sqlite_api.container)
    assert any("tr" in doc[6] for doc in _index(forked)["doc"] if doc[0] == referred["id"])


def test_search_documents_survive_pickling(sqlite_api: Api) -> None:
    """A forked import child sends its documents pickled as plain values (SearchDocument.__reduce__)."""
    demo = demo_document(sqlite_api.container.gazetteer)
    assert sqlite_api.client.post("/api/v1/import", json=demo, headers=sqlite_api.admin()).status_code == 200
    with sqlite_api.container.store.transaction() as session:
        built = build_documents(session, sqlite_api.container.gazetteer, [s["id"] for s in demo["services"]])
    documents = [d for d in built.values() if d is not None]
    assert any(d.points and d.hours and d.verified_on for d in documents)
    assert pickle.loads(pickle.dumps(documents)) == documents  # noqa: S301 -- our own bytes


def test_a_bulk_transaction_holds_the_write_lock_from_its_first_read(sqlite_api: Api) -> None:
    """An import decides from what it reads first (what the directory holds, what refers to what); no
    other change may commit between those reads and its writes."""
    path = sqlite_api.container.engine.url.database
    assert path is not None
    with sqlite_api.container.store.transaction(bulk=True) as session:
        session.select("service", {"id": ["nothing"]}, fields=("id",))
        other = sqlite3.connect(path, timeout=0.2)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE search_state SET version = version")
                other.commit()
        finally:
            other.close()
    other = sqlite3.connect(path, timeout=5)  # and once it is over, others write again
    other.execute("UPDATE search_state SET version = version")
    other.commit()
    other.close()


def _zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _post_zip(api: Api, data: bytes) -> Any:
    return api.client.post("/api/v1/import", data=data, content_type="application/zip", headers=api.admin())


def test_an_uploaded_archive_may_not_unpack_to_more_than_the_limit(api: Api) -> None:
    """A few KB that unpack to 100 MB: refused before it is unpacked (413), also when its headers lie."""
    header = "id,name,description\n"
    bomb = _zip({"organizations.csv": header + "x" * 100_000_000})
    assert len(bomb) < 200_000
    response = _post_zip(api, bomb)
    assert response.status_code == 413 and response.json["errors"][0]["name"] == "body"
    # a member whose header claims it is small: the budget counts what is really read
    row = f"{uuid.uuid4()},Kleiner Verein (Test),Beratung\n"
    small = _zip({"organizations.csv": header + row})
    real = header + "".join(f"{uuid.uuid4()},Org {i},{'y' * 900}\n" for i in range(60_000))
    liar = _zip({"organizations.csv": real})
    forged = bytearray(liar)
    info = zipfile.ZipFile(io.BytesIO(liar)).getinfo("organizations.csv")
    # central directory and local header both carry the size: patch each copy of it to the small one's
    small_size = len((header + row).encode())
    for offset in [i for i in range(len(forged) - 4) if forged[i : i + 4] == info.file_size.to_bytes(4, "little")]:
        forged[offset : offset + 4] = small_size.to_bytes(4, "little")
    response = _post_zip(api, bytes(forged))
    assert response.status_code in (413, 422), response.json  # refused either way, never a 500
    assert _post_zip(api, small).status_code == 200
    before = api.client.get("/api/v1/organizations", headers=api.admin()).json["total_items"]
    assert before == 1  # the refused ones wrote nothing


def test_an_archive_of_too_many_files_and_an_overlong_field_are_told_not_crashed(api: Api) -> None:
    many = _zip({f"extra_{i}.txt": "x" for i in range(70)})
    response = _post_zip(api, many)
    assert response.status_code == 422 and "at most 64" in response.json["errors"][0]["reason"]
    long_field = "id,name,description\n" + f"{uuid.uuid4()},Org,{'z' * 200_000}\n"
    response = _post_zip(api, _zip({"organizations.csv": long_field}))
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"name": "organizations.csv:2", "reason": "holds a field longer than 131,072 characters"}
    ]
    latin1 = b"id,name,description\n" + f"{uuid.uuid4()},Straße,x\n".encode("latin-1")
    response = _post_zip(api, _zip({"organizations.csv": latin1}))
    assert response.status_code == 422 and response.json["errors"][0]["reason"] == "is not UTF-8 text"


def test_a_maintainer_re_imports_the_own_csv_export_unchanged(sqlite_api: Api) -> None:
    """The package carries the history (an empty previous value reads back as an empty text, not as none) and
    the taxonomy terms the offers use (a maintainer may not change those, but may send them as they are)."""
    api = sqlite_api
    org = api.create("organizations", {"name": "Beratung Witten (Test)", "description": "x"})
    maintainer = api.token(Role.MAINTAINER, org["id"], sub="pflege-1")
    with api.container.store.transaction() as session:
        session.grant(org["id"], org["id"])
    service = api.create(
        "services", {"organization_id": org["id"], "name": "Sprechstunde", "status": "active"}, maintainer
    )
    changed = api.client.patch(
        f"/api/v1/services/{service['id']}", json={"description": "neu"}, headers={**maintainer, "If-Match": '"1"'}
    )
    assert changed.status_code == 200  # a history row whose previous value is empty
    taxonomy = api.create("taxonomies", {"name": "Themen", "description": "Lotse"})
    term = api.create(
        "taxonomy_terms", {"taxonomy_id": taxonomy["id"], "name": "Aufenthalt", "description": "x", "code": "a"}
    )
    api.create(
        "attributes",
        {"link_id": service["id"], "link_entity": "service", "link_type": "topic", "taxonomy_term_id": term["id"]},
        maintainer,
    )

    package = api.client.get("/api/v1/export", query_string={"format": "csv"}, headers=maintainer)
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert {"metadata.csv", "taxonomy_terms.csv"} <= set(archive.namelist())
    again = api.client.post("/api/v1/import", data=package.data, content_type="application/zip", headers=maintainer)
    assert again.status_code == 200, again.json
    assert again.json["created"] == {} and again.json["updated"] == {}

    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        files = {n: archive.read(n).decode() for n in archive.namelist()}
    files["taxonomy_terms.csv"] = files["taxonomy_terms.csv"].replace("Aufenthalt", "Aufenthaltsrecht")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    refused = api.client.post(
        "/api/v1/import", data=buffer.getvalue(), content_type="application/zip", headers=maintainer
    )
    assert refused.status_code == 403 and "only admins import taxonomy_term" in refused.json["detail"]
