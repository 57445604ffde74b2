"""DSGVO Art. 15 and 17 for admins: everything routing holds about one person, found by name and birth date
through a keyed blind index (whatever the case, accents, punctuation and order of the names), exported as one
answer; and erased on request where the referral is closed."""

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from cryptography.fernet import Fernet
from lotse_contracts import Role
from lotse_routing.adapters.storage.tables import audit, referral
from lotse_routing.bootstrap import build
from lotse_routing.domain.subjects import person_key
from lotse_routing.use_cases.subject_access import Person
from sqlalchemy import select, text

from tests.routing.conftest import Api
from tests.routing.test_referrals_api import CLIENT, Walk

AMINA = {"name": "Amina Beispiel", "birth_date": "2009-04-01"}


def _search(api: Api, person: dict[str, Any], status: int = 200, role: Role = Role.ADMIN) -> Any:
    answer = api.post("/subject-access", person, api.token(role, None, "admin-1"))
    assert answer.status_code == status, answer.json
    return answer.json


def _erase(api: Api, ids: list[str], status: int = 200, person: dict[str, Any] = AMINA) -> Any:
    answer = api.post("/subject-access/erase", {**person, "referral_ids": ids}, api.token(Role.ADMIN, None, "admin-1"))
    assert answer.status_code == status, answer.json
    return answer.json


def test_the_person_key_ignores_case_accents_punctuation_and_the_order_of_the_names() -> None:
    day = date.fromisoformat(CLIENT["birth_date"])
    assert person_key("Amina Beispiel", day) == person_key("  BEISPIEL,  amina ", day) == "amina beispiel|2009-04-01"
    assert person_key("Şahin Müller-Groß", None) == person_key("muller gross sahin", None) == "gross muller sahin|"
    assert person_key("Amina Beispiel", day) != person_key("Amina Beispiel", None)


def test_an_admin_finds_every_referral_consent_and_audit_entry_about_one_person(api: Api) -> None:
    walk = Walk(api)
    first = walk.create()["id"]
    api.get(f"/referrals/{first}", walk.recipient)  # read by the recipient: in the audit entries
    child = walk.act(first, "forward", walk.recipient, to_organization_id=walk.kreis)["forwarded_to_id"]
    undated = walk.create(client={"name": "amina BEISPIEL"})["id"]  # no birth date given: found, marked
    walk.create(client={"name": "Amina Beispiel", "birth_date": "2010-05-05"})  # another Amina: not found
    walk.create(client={"name": "Ali Beispiel", "birth_date": "2009-04-01"})  # another name: not found

    found = _search(api, {"name": "Beispiel, Amina", "birth_date": "2009-04-01"})
    assert found["name"] == "Beispiel, Amina" and found["produced_by"] == "admin-1" and found["produced_at"]
    assert found["retention_days"] == 365
    by_id = {r["id"]: r for r in found["referrals"]}
    assert set(by_id) == {first, child, undated}
    assert by_id[first]["matched_by"] == by_id[child]["matched_by"] == "name_and_birth_date"
    assert by_id[undated]["matched_by"] == "name_only"
    assert by_id[first]["client"] == CLIENT and by_id[first]["reason"].startswith("Familie sucht")
    assert by_id[first]["erasable"] is True and by_id[child]["erasable"] is False  # forwarded: closed; child open
    assert by_id[first]["consent"]["given_by"] == "Mutter, Samira Beispiel"
    consents = {c["id"] for c in found["consents"]}
    assert consents == {by_id[first]["consent"]["id"], by_id[undated]["consent"]["id"]}  # the child shares one
    trail = [(a["subject"], a["action"], a["referral_id"]) for a in found["audit"]]
    assert ("cm-1", "create", first) in trail and ("ja-witten-1", "read", first) in trail
    assert ("cm-1", "create", undated) in trail
    assert all(a["referral_id"] in by_id or a["consent_id"] in consents for a in found["audit"])

    with api.container.engine.connect() as conn:  # the search is on record, per referral found
        searches = conn.execute(select(audit.c.referral_id).where(audit.c.action == "subject_access")).scalars()
        assert set(searches) == {first, child, undated}
        indexes = conn.execute(select(referral.c.client_index)).scalars().all()
    assert all(len(i) == 64 and "amina" not in i for i in indexes)

    nobody = _search(api, {"name": "Niemand Unbekannt", "birth_date": "1980-01-01"})
    assert nobody["referrals"] == [] and nobody["consents"] == [] and nobody["audit"] == []
    with api.container.engine.connect() as conn:
        blank = conn.execute(
            select(audit.c.subject).where(audit.c.action == "subject_access", audit.c.referral_id.is_(None))
        ).scalars()
        assert list(blank) == ["admin-1"]  # a search that found nothing is on record too


def test_only_admins_search_and_bad_input_names_the_field(api: Api) -> None:
    for role in (Role.CASE_MANAGER, Role.AGENCY, Role.COORDINATOR, Role.MAINTAINER):
        _search(api, AMINA, 403, role)
    assert _search(api, {"name": "Amina Beispiel"}, 422)["errors"][0]["name"] == "birth_date"
    assert _search(api, {**AMINA, "birth_date": "2009-02-30"}, 422)["errors"][0]["name"] == "birth_date"
    assert _search(api, {**AMINA, "name": ""}, 422)["errors"][0]["name"] == "name"
    assert _search(api, {**AMINA, "extra": 1}, 422)["errors"][0]["name"] == "extra"
    assert _erase(api, [], 422)["errors"][0]["name"] == "referral_ids"
    assert _erase(api, ["nope"], 422)["errors"][0]["name"] == "referral_ids.0"


def test_an_erasure_on_request_takes_closed_referrals_all_or_none_and_open_ones_after_the_withdrawal(
    api: Api,
) -> None:
    walk = Walk(api)
    declined = walk.create()["id"]
    walk.act(declined, "decline", walk.recipient, reason_code="sonstiges", note="Zuständig ist das Land")
    still_open = walk.create()
    other = walk.create(client={"name": "Ali Beispiel", "birth_date": "2009-04-01"})["id"]

    refused = _erase(api, [declined, still_open["id"]], 409)
    assert refused["open_referrals"] == [still_open["id"]]
    assert _erase(api, [declined, other], 422)["errors"][0]["name"] == "referral_ids"
    assert _erase(api, [str(uuid.uuid4())], 422)["errors"][0]["name"] == "referral_ids"
    assert api.get(f"/referrals/{declined}", walk.recipient).json["client"] == CLIENT  # nothing erased

    assert _erase(api, [declined]) == {"erased": [declined]}
    gone = api.get(f"/referrals/{declined}", walk.recipient).json
    assert gone["erased_at"] and gone["client"] is None and gone["reason"] is None
    assert gone["history"][-1]["note"] is None and gone["status"] == "declined"
    assert gone["consent"]["given_by"] is None
    assert {r["id"] for r in _search(api, AMINA)["referrals"]} == {still_open["id"]}  # erased: not found again
    _erase(api, [declined], 422)

    admin = api.token(Role.ADMIN, None, "admin-1")  # the person withdraws; the open referral is cancelled …
    assert api.post(f"/consents/{still_open['consent']['id']}/withdraw", None, admin).status_code == 200
    assert _erase(api, [still_open["id"]]) == {"erased": [still_open["id"]]}  # … and can go
    assert _search(api, AMINA)["referrals"] == []
    assert api.get(f"/referrals/{other}", walk.recipient).json["client"]["name"] == "Ali Beispiel"
    with api.container.engine.connect() as conn:
        rows = conn.execute(
            select(audit.c.referral_id, audit.c.allowed)
            .where(audit.c.action == "erase_on_request")
            .order_by(audit.c.seq)
        ).all()
    assert [r for r, allowed in rows if allowed] == [declined, still_open["id"]]
    tried = {r for r, allowed in rows if not allowed}  # the refused attempts are on record
    assert tried >= {declined, still_open["id"], other}


def test_db_upgrade_indexes_the_referrals_stored_before_and_a_key_rotation_keeps_them_found(sqlite_api: Api) -> None:
    walk = Walk(sqlite_api)
    ident = walk.create()["id"]
    with sqlite_api.container.engine.begin() as conn:  # as a referral written before the client index
        conn.execute(text("UPDATE referral SET client_index = NULL"))
    assert _search(sqlite_api, AMINA)["referrals"] == []
    sqlite_api.container.migrate()  # as `lotse-routing db upgrade` does
    assert [r["id"] for r in _search(sqlite_api, AMINA)["referrals"]] == [ident]

    settings = sqlite_api.container.settings
    old, new = settings.keys()[0], Fernet.generate_key().decode()
    rotating = build(replace(settings, data_keys=(new, old)))
    amina = Person("Amina Beispiel", date(2009, 4, 1))
    admin = sqlite_api.container.verifier.verify(
        sqlite_api.token(Role.ADMIN, None, "admin-1")["Authorization"].removeprefix("Bearer ")
    )
    assert [r["id"] for r in rotating.subject_access.report(admin, amina)["referrals"]] == [
        ident
    ]  # under the old key's index
    while rotating.referrals.reseal():
        pass
    only_new = build(replace(settings, data_keys=(new,)))  # the old key is gone: the index was made anew
    assert [r["id"] for r in only_new.subject_access.report(admin, amina)["referrals"]] == [ident]
