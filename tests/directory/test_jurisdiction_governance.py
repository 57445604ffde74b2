"""Who may declare who is responsible where: maintainers who keep the region and admins, for authorities of the
legal domain; a declaration that takes over from another body waits for a second person."""

import io
import json
import zipfile
from typing import Any

from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier

from tests.directory.conftest import Api

KREIS, WITTEN, HERFORD = "05954", "05954036", "05758"


def token(api: Api, role: Role, org: str | None, sub: str, regions: tuple[str, ...] = ()) -> dict[str, str]:
    verifier = api.container.verifier
    assert isinstance(verifier, HmacTokenVerifier)
    return {"Authorization": f"Bearer {verifier.issue(sub, role, org, sub.title(), regions=regions)}"}


def org(api: Api, name: str, *authority_for: str) -> str:
    body: dict[str, Any] = {"name": name, "description": "Test"}
    if authority_for:
        body["authority_for"] = list(authority_for)
    return str(api.create("organizations", body)["id"])


def rule(organization_id: str, region_key: str, domain: str = "SGB_VIII", **more: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "legal_domain": domain,
        "region_key": region_key,
        "source": "Test",
        "verified_on": "2026-11-01",
        **more,
    }


def post(api: Api, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return api.client.post("/api/v1/jurisdictions", json=body, headers=headers)


def test_only_those_who_keep_the_region_declare_who_is_responsible_there(api: Api) -> None:
    charity = org(api, "Diakonie Witten (Test)")
    jugendamt = org(api, "Jugendamt Witten (Test)", "SGB_VIII")
    # a charity's maintainer: neither for its own organisation nor for an authority, nor marking itself one
    own = token(api, Role.MAINTAINER, charity, "diakonie-1")
    assert post(api, rule(jugendamt, WITTEN), own).status_code == 403
    assert post(api, rule(charity, WITTEN), own).status_code == 403
    marked = api.client.patch(
        f"/api/v1/organizations/{charity}", json={"authority_for": ["SGB_VIII"]}, headers={**own, "If-Match": "*"}
    )
    assert marked.status_code == 403, marked.json
    created = api.client.post(
        "/api/v1/organizations",
        json={"name": "Jugendamt (falsch)", "description": "x", "authority_for": ["SGB_VIII"]},
        headers=own,
    )
    assert created.status_code == 403
    # the Kreis's KIM coordination keeps its Kreis: Witten yes, another Kreis or the whole Land no
    keeper = token(api, Role.MAINTAINER, charity, "ki-en-1", (KREIS,))
    assert post(api, rule(jugendamt, HERFORD), keeper).status_code == 403
    assert post(api, rule(jugendamt, "05"), keeper).status_code == 403
    made = post(api, rule(jugendamt, WITTEN), keeper)
    assert made.status_code == 201, made.json
    assert made.json["status"] == "confirmed" and made.json["declared_by"] == "ki-en-1"
    assert made.json["declared_by_name"] == "Ki-En-1"
    # only an authority of the legal domain is declared responsible
    refused = post(api, rule(charity, WITTEN, "SGB_II"), keeper)
    assert refused.status_code == 422 and refused.json["errors"][0]["name"] == "organization_id"
    refused = post(api, rule(jugendamt, WITTEN, "SGB_II"), keeper)
    assert refused.status_code == 422 and "no authority for SGB_II" in refused.json["errors"][0]["reason"]
    # what the directory sets is not for writers
    forged = post(api, rule(jugendamt, KREIS, status="confirmed", confirmed_by="x"), keeper)
    assert forged.status_code == 422
    assert {e["name"] for e in forged.json["errors"]} == {"status", "confirmed_by"}
    # the authority's own maintainer does not remove who is responsible by deleting its organisation
    staff = token(api, Role.MAINTAINER, jugendamt, "ja-witten-1")
    gone = api.client.delete(f"/api/v1/organizations/{jugendamt}", headers={**staff, "If-Match": "*"})
    assert gone.status_code == 403
    assert api.client.get(f"/api/v1/jurisdictions/{made.json['id']}", headers=api.admin()).status_code == 200


def test_taking_over_from_another_body_waits_for_a_second_person(api: Api) -> None:
    kreis = org(api, "Kreisjugendamt (Test)", "SGB_VIII")
    city = org(api, "Jugendamt Witten (Test)", "SGB_VIII", "SGB_XII")
    first = token(api, Role.MAINTAINER, None, "ki-en-1", (KREIS,))
    second = token(api, Role.MAINTAINER, None, "ki-en-2", (KREIS,))
    elsewhere = token(api, Role.MAINTAINER, None, "ki-hf-1", (HERFORD,))
    held = post(api, rule(kreis, KREIS), first)
    assert held.json["status"] == "confirmed"  # nobody was responsible there: nothing is taken over
    gap = post(api, rule(city, WITTEN, "SGB_XII"), first)
    assert gap.json["status"] == "confirmed"
    # the city claims Witten, where the Kreis is responsible today: proposed, not used until confirmed
    proposal = post(api, rule(city, WITTEN), first)
    assert proposal.status_code == 201 and proposal.json["status"] == "proposed"
    ident, etag = proposal.json["id"], proposal.headers["ETag"]
    confirm = f"/api/v1/jurisdictions/{ident}/confirm"
    assert api.client.post(confirm, headers={**first, "If-Match": etag}).status_code == 403  # not the declarer
    assert api.client.post(confirm, headers={**elsewhere, "If-Match": etag}).status_code == 403  # not its region
    done = api.client.post(confirm, headers={**second, "If-Match": etag})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "confirmed" and done.json["confirmed_by"] == "ki-en-2"
    assert done.json["confirmed_by_name"] == "Ki-En-2" and done.json["confirmed_at"]
    again = api.client.post(confirm, headers={**second, "If-Match": done.headers["ETag"]})
    assert again.status_code == 409
    # the same key for a third body ties with the city: proposed too; on other PLZ only it takes nothing over
    rival = org(api, "Jugendamt (Rivale, Test)", "SGB_VIII")
    assert post(api, rule(rival, WITTEN), first).json["status"] == "proposed"
    assert post(api, rule(rival, WITTEN, postal_codes=["58453"]), first).json["status"] == "proposed"
    narrow = post(api, rule(city, KREIS, postal_codes=["58332"]), first)
    assert narrow.json["status"] == "proposed"  # the Kreis decides 58332 today
    # a change that would take over is refused (it is proposed as a new one); narrowing one's own is not
    kreis_rule = held.json
    moved = api.client.patch(
        f"/api/v1/jurisdictions/{gap.json['id']}",
        json={"legal_domain": "SGB_VIII"},
        headers={**first, "If-Match": gap.headers["ETag"]},
    )
    assert moved.status_code == 409 and moved.json["taken_over"] == [kreis_rule["id"]]
    given_away = api.client.patch(
        f"/api/v1/jurisdictions/{kreis_rule['id']}",
        json={"organization_id": city},
        headers={**first, "If-Match": held.headers["ETag"]},
    )
    assert given_away.status_code == 409
    narrowed = api.client.patch(
        f"/api/v1/jurisdictions/{kreis_rule['id']}",
        json={"postal_codes": ["58332"]},
        headers={**first, "If-Match": held.headers["ETag"]},
    )
    assert narrowed.status_code == 200 and narrowed.json["status"] == "confirmed"
    # every step in the history, with who took it
    history = api.client.get(f"/api/v1/jurisdictions/{ident}/history", headers=api.admin()).json
    assert {(h["last_action_type"], h["updated_by"]) for h in history} == {("create", "ki-en-1"), ("update", "ki-en-2")}
    confirmed = {h["field_name"]: h["replacement_value"] for h in history if h["updated_by"] == "ki-en-2"}
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_by"] == "ki-en-2"


def test_an_import_declares_like_the_api(api: Api) -> None:
    kreis = org(api, "Kreisjugendamt (Test)", "SGB_VIII")
    assert post(api, rule(kreis, KREIS), api.admin()).json["status"] == "confirmed"
    city = org(api, "Jugendamt Witten (Test)", "SGB_VIII")
    staff = token(api, Role.MAINTAINER, city, "ja-witten-1")
    keeper = token(api, Role.MAINTAINER, None, "ki-en-1", (KREIS,))
    body = {"id": "6f1f7a59-5c7e-4a38-9f1d-3f1b2a1c0001", **rule(city, WITTEN)}
    own = {"id": city, "name": "Jugendamt Witten (Test)", "description": "Test", "authority_for": ["SGB_VIII"]}
    refused = api.client.post("/api/v1/import", json=[{**own, "jurisdictions": [body]}], headers=staff)
    assert refused.status_code == 403 and "keep that region" in refused.json["detail"]
    forged = {**body, "status": "confirmed", "declared_by": "someone-else"}
    files = io.BytesIO()
    with zipfile.ZipFile(files, "w") as archive:
        archive.writestr("x_jurisdictions.csv", _csv([forged]))
    done = api.client.post("/api/v1/import", data=files.getvalue(), content_type="application/zip", headers=keeper)
    assert done.status_code == 200, done.json
    stored = api.client.get(f"/api/v1/jurisdictions/{body['id']}", headers=api.admin()).json
    assert stored["status"] == "proposed" and stored["declared_by"] == "ki-en-1"  # the file's claim is not taken
    charity = org(api, "Caritas (Test)")
    marking = [{"id": charity, "name": "Caritas (Test)", "description": "Test", "authority_for": ["SGB_II"]}]
    refused = api.client.post("/api/v1/import", json=marking, headers=token(api, Role.MAINTAINER, charity, "c-1"))
    assert refused.status_code == 403 and "mark organisations as authorities" in refused.json["detail"]


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(_cell(row[c]) for c in columns))
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = ",".join(value) if isinstance(value, list) else str(value)
    return json.dumps(text) if "," in text else text


def test_the_authorities_a_jurisdiction_may_name_are_listed_by_name(api: Api) -> None:
    jugendamt = org(api, "Jugendamt Witten (Test)", "SGB_VIII")
    org(api, "Caritas Witten (Test)")  # no authority
    both = org(api, "Kreisverwaltung (Test)", "AUFENTHG", "STAG")
    listed = api.client.get("/api/v1/authorities", headers=token(api, Role.MAINTAINER, None, "pflege-1"))
    assert listed.status_code == 200
    assert listed.json["contents"] == [
        {"id": jugendamt, "name": "Jugendamt Witten (Test)", "authority_for": ["SGB_VIII"]},
        {"id": both, "name": "Kreisverwaltung (Test)", "authority_for": ["AUFENTHG", "STAG"]},
    ]
    assert api.client.get("/api/v1/authorities").status_code == 401


def test_a_region_s_jurisdictions_are_listed_with_those_of_its_gemeinden(api: Api) -> None:
    jugendamt = org(api, "Jugendamt (Test)", "SGB_VIII")
    admin = api.admin()
    for key in (KREIS, WITTEN, HERFORD):
        assert post(api, rule(jugendamt, key), admin).status_code == 201
    listed = api.client.get("/api/v1/jurisdictions", query_string={"region": KREIS}, headers=admin).json
    assert listed["total_items"] == 2 and {r["region_key"] for r in listed["contents"]} == {KREIS, WITTEN}
    bad = api.client.get("/api/v1/jurisdictions", query_string={"region": "Kreis"}, headers=admin)
    assert bad.status_code == 400 and bad.json["errors"][0]["name"] == "region"
