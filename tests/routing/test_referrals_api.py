"""Referrals over the API: consent, every state of the lifecycle, the right and the wrong roles and
organisations, history, audit, events and encryption at rest."""

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lotse_contracts import Role
from lotse_kit.schema_errors import event_validator
from lotse_routing import create_app
from lotse_routing.adapters.storage.tables import audit, consent, outbox, referral
from lotse_routing.bootstrap import build
from lotse_routing.settings import Settings
from sqlalchemy import func, select, text

from tests.routing.conftest import SECRET, Api, Directory

SENDER_ORG = "0a1b2c3d-0000-4000-8000-00000000c0de"  # a KIM case management team
OTHER_ORG = "0a1b2c3d-0000-4000-8000-0000000000ff"
WITTEN_JUGENDAMT = "Jugendamt der Stadt Witten (Demo)"
KREIS_JUGENDAMT = "Jugendamt Ennepe-Ruhr-Kreis (Demo)"
CLIENT = {"name": "Amina Beispiel", "birth_date": "2009-04-01", "phone": "+49 000 12345"}


def body(recipient: str, **changes: Any) -> dict[str, Any]:
    new: dict[str, Any] = {
        "legal_domain": "SGB_VIII",
        "location": "Ruhrstraße 1, 58452 Witten",
        "residence_of": "parents",
        "topic": "Hilfen zur Erziehung",
        "urgency": "urgent",
        "reason": "Familie sucht Unterstützung; Termin bitte mit Sprachmittlung (Arabisch).",
        "client": CLIENT,
        "consent": {
            "given_by": "Mutter, Samira Beispiel",
            "given_at": "2026-11-20T10:00:00+01:00",
            "form": "written",
            "recipient_organization_id": recipient,
            "data_categories": ["name", "birth_date", "contact", "reason"],
            "informed_of": ["purpose", "refusal", "withdrawal"],
            "onward_transfer": True,
        },
    }
    new.update(changes)
    return new


class Walk:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.witten = api.directory.org_named(WITTEN_JUGENDAMT)
        self.kreis = api.directory.org_named(KREIS_JUGENDAMT)
        self.sender = api.token(Role.CASE_MANAGER, SENDER_ORG, "cm-1")
        self.other_sender = api.token(Role.CASE_MANAGER, OTHER_ORG, "cm-2")
        self.recipient = api.token(Role.AGENCY, self.witten, "ja-witten-1")
        self.kreis_agency = api.token(Role.AGENCY, self.kreis, "ja-kreis-1")
        self.coordinator = api.token(Role.COORDINATOR, SENDER_ORG, "coord-1")

    def create(self, **changes: Any) -> dict[str, Any]:
        response = self.api.post("/referrals", body(self.witten, **changes), self.sender)
        assert response.status_code == 201, response.json
        assert response.headers["Location"].endswith(response.json["id"])
        return dict(response.json)

    def act(self, ident: str, action: str, who: dict[str, str], status: int = 200, **step: Any) -> Any:
        response = self.api.post(f"/referrals/{ident}/{action}", step or None, who)
        assert response.status_code == status, response.json
        return response.json

    def count(self, table: Any) -> int:
        with self.api.container.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_no_consent_no_referral_and_nothing_is_stored(api: Api) -> None:
    walk = Walk(api)
    bad = [
        (body(walk.witten, consent=None), "consent"),
        ({k: v for k, v in body(walk.witten).items() if k != "consent"}, "consent"),
        (body(walk.kreis), "consent.recipient_organization_id"),
        (
            body(walk.witten, consent={**body(walk.witten)["consent"], "data_categories": ["name"]}),
            "consent.data_categories",
        ),
        (body(walk.witten, consent={**body(walk.witten)["consent"], "form": "nod"}), "consent.form"),
        (
            body(walk.witten, consent={**body(walk.witten)["consent"], "given_at": "2026-11-20T10:00:00"}),
            "consent.given_at",
        ),
        (
            body(walk.witten, consent={**body(walk.witten)["consent"], "given_at": "2099-01-01T00:00:00Z"}),
            "consent.given_at",
        ),
        (
            body(walk.witten, consent={k: v for k, v in body(walk.witten)["consent"].items() if k != "informed_of"}),
            "consent.informed_of",
        ),
        (  # SGB X § 67b Abs. 2: told the purpose and how to withdraw, but not what refusing would mean
            body(walk.witten, consent={**body(walk.witten)["consent"], "informed_of": ["purpose", "withdrawal"]}),
            "consent.informed_of",
        ),
        (  # § 36 SGB I: a child of 11 does not consent alone
            body(walk.witten, client={**CLIENT, "birth_date": "2015-06-01"}),
            "consent.given_by_role",
        ),
        (body(walk.witten, consent={**body(walk.witten)["consent"], "given_by_role": "aunt"}), "consent.given_by_role"),
        (body(walk.witten, residence_of="client"), "residence_of"),
        (body(walk.witten, location="00000"), "location"),
        (body(walk.witten, client={"birth_date": "2009-04-01"}), "client.name"),
    ]
    for sent, field in bad:
        response = api.post("/referrals", sent, walk.sender)
        assert response.status_code in (400, 422), (field, response.json)
        assert response.content_type == "application/problem+json"
        assert field in [e["name"] for e in response.json["errors"]], (field, response.json)
    assert walk.count(referral) == 0 and walk.count(consent) == 0 and walk.count(outbox) == 0
    # only case managers refer
    for role, org in ((Role.AGENCY, walk.witten), (Role.COORDINATOR, SENDER_ORG), (Role.MAINTAINER, SENDER_ORG)):
        assert api.post("/referrals", body(walk.witten), api.token(role, org)).status_code == 403
    assert api.post("/referrals", body(walk.witten), {}).status_code == 401


def test_the_consent_keeps_who_gave_it_and_what_the_client_was_told(api: Api) -> None:
    """The person with custody consents for a child under 15 (§ 36 SGB I); the day the child turns 15 it may
    consent alone. The referral shows who consented and what the client was told (SGB X § 67b Abs. 2)."""
    walk = Walk(api)
    child = {**CLIENT, "birth_date": "2011-11-21"}  # 15 on 2026-11-21, the day after the consent
    by_mother = {**body(walk.witten)["consent"], "given_by_role": "custodian"}
    made = api.post("/referrals", body(walk.witten, client=child, consent=by_mother), walk.sender)
    assert made.status_code == 201, made.json
    consent_seen = made.json["consent"]
    assert consent_seen["given_by_role"] == "custodian"
    assert consent_seen["informed_of"] == ["purpose", "refusal", "withdrawal"]
    assert api.get(f"/referrals/{made.json['id']}", walk.sender).json["consent"] == consent_seen
    alone = api.post("/referrals", body(walk.witten, client=child), walk.sender)
    assert alone.status_code == 422 and alone.json["errors"][0]["name"] == "consent.given_by_role"
    turned_15 = {**body(walk.witten)["consent"], "given_at": "2026-11-21T08:00:00+01:00"}
    assert api.post("/referrals", body(walk.witten, client=child, consent=turned_15), walk.sender).status_code == 201


def test_the_referral_as_created_is_the_referral_as_read_back(api: Api) -> None:
    """Creation answers with what was written, as a read shows it later: times in UTC (the consent's
    10:00 at +01:00 is 09:00 UTC on SQLite too), the history of its creation, no notifications yet."""
    walk = Walk(api)
    for draft in (True, False):
        made = walk.create(draft=draft)
        assert made["consent"]["given_at"] == "2026-11-20T09:00:00+00:00"
        assert [h["action"] for h in made["history"]] == (["create"] if draft else ["create", "submit"])
        assert made["notifications"] == []
        assert api.get(f"/referrals/{made['id']}", walk.sender).json == made


def test_the_sender_writes_a_draft_anew_then_sends_it_and_nobody_else_may(api: Api) -> None:
    walk = Walk(api)
    draft = walk.create(draft=True)
    url = f"/api/v1/referrals/{draft['id']}"
    less = {"name": "Amina Beispiel", "birth_date": "2009-04-01"}  # no phone any more
    consent = {**body(walk.witten)["consent"], "data_categories": ["name", "birth_date", "reason"]}

    def written(**changes: Any) -> dict[str, Any]:
        return body(
            walk.witten, **{"draft": True, "client": less, "consent": consent, "revision": draft["revision"], **changes}
        )

    uncovered = written(client=CLIENT)  # the phone is given, the consent does not cover contact data
    answer = api.client.put(url, json=uncovered, headers=walk.sender)
    assert answer.status_code == 422 and answer.json["errors"][0]["name"] == "consent.data_categories"
    changed = api.client.put(
        url, json=written(reason="Beratung zur Schulanmeldung", urgency="normal"), headers=walk.sender
    )
    assert changed.status_code == 200, changed.json
    now = changed.json
    assert now["status"] == "draft" and now["reason"] == "Beratung zur Schulanmeldung" and now["client"] == less
    assert now["urgency"] == "normal" and now["consent"]["id"] != draft["consent"]["id"]
    assert [h["action"] for h in now["history"]] == ["create", "revise"] and now["revision"] == draft["revision"] + 1
    assert api.client.put(url, json=written(), headers=walk.sender).status_code == 409  # read before the change
    assert api.client.put(url, json=written(), headers=walk.other_sender).status_code == 404  # another team's
    assert api.client.put(url, json=written(), headers=walk.recipient).status_code == 403

    sent = api.client.put(url, json={**written(), "draft": False, "revision": now["revision"]}, headers=walk.sender)
    assert sent.status_code == 200 and sent.json["status"] == "requested", sent.json
    assert [h["action"] for h in sent.json["history"]] == ["create", "revise", "revise", "submit"]
    again = {**written(), "revision": sent.json["revision"]}
    assert api.client.put(url, json=again, headers=walk.sender).status_code == 409  # no draft any more
    assert api.get(url.removeprefix("/api/v1"), walk.recipient).json["client"] == less  # as last written


def test_a_client_is_referred_to_an_offer_the_case_manager_chose_and_its_provider_receives_it(api: Api) -> None:
    walk = Walk(api)
    with api.directory.container.store.transaction() as session:
        [offer] = session.select("service", {"name": "Integrationskurs mit Alphabetisierung (Wetter (Ruhr))"})
    provider = str(offer["organization_id"])
    consent = {**body(provider)["consent"], "recipient_organization_id": provider}
    to_offer = {
        "legal_domain": offer["legal_domains"][0],
        "location": "58453",
        "service_id": offer["id"],
        "reason": "Deutschkurs mit Kinderbetreuung",
        "client": CLIENT,
        "consent": consent,
    }
    made = api.post("/referrals", to_offer, walk.sender)
    assert made.status_code == 201, made.json
    assert made.json["recipient_organization_id"] == provider and made.json["status"] == "requested"
    assert made.json["decision"]["outcome"] == "offer" and made.json["decision"]["service_id"] == offer["id"]
    assert "Integrationskurs mit Alphabetisierung (Wetter (Ruhr))" in made.json["explanation"]
    assert made.json["place_name"] and made.json["region_key"].startswith("05954")  # the client's place
    staff = api.token(Role.AGENCY, provider, "kurs-1")
    assert api.get(f"/referrals/{made.json['id']}", staff).json["client"] == CLIENT  # the provider receives it

    wrong = api.post(
        "/referrals", {**to_offer, "consent": {**consent, "recipient_organization_id": walk.witten}}, walk.sender
    )
    assert wrong.status_code == 422 and wrong.json["errors"][0]["name"] == "consent.recipient_organization_id"
    unknown = api.post("/referrals", {**to_offer, "service_id": "0a1b2c3d-0000-4000-8000-000000000000"}, walk.sender)
    assert unknown.status_code == 422 and unknown.json["errors"][0]["name"] == "service_id"
    other = next(d for d in ("SGB_II", "SGB_III", "SGB_VIII", "AUFENTHG", "STAG") if d not in offer["legal_domains"])
    mismatch = api.post("/referrals", {**to_offer, "legal_domain": other}, walk.sender)
    assert mismatch.status_code == 422 and mismatch.json["errors"][0]["name"] == "legal_domain"


def test_a_referral_walks_from_draft_to_completed_and_only_the_right_side_moves_it(api: Api) -> None:
    walk = Walk(api)
    draft = walk.create(draft=True)
    ident = draft["id"]
    assert draft["status"] == "draft" and draft["recipient_name"] == WITTEN_JUGENDAMT
    assert draft["allowed_actions"] == ["submit", "cancel", "entered_in_error"]
    assert "05954036" in draft["explanation"] and draft["decision"]["verified_on"] == "2026-10-01"
    assert draft["client"] == CLIENT and draft["consent"]["given_by"] == "Mutter, Samira Beispiel"
    assert draft["first_received_on"] is None

    # until it is submitted, it exists only for its sender: not for the recipient, not for admins
    admin = api.token(Role.ADMIN, None, "admin-1")
    for outsider in (walk.other_sender, walk.kreis_agency, walk.recipient, admin):
        assert api.get(f"/referrals/{ident}", outsider).status_code == 404
        assert walk.act(ident, "cancel", outsider, 404, reason_code="client_moved")["status"] == 404
    assert api.get(f"/referrals/{ident}", walk.coordinator).status_code == 403
    for lister in (walk.recipient, admin):
        for query in ({}, {"status": "draft"}):
            listed = api.get("/referrals", lister, **query).json
            assert ident not in {r["id"] for r in listed["contents"]} and listed["total_items"] == 0, query
    assert [r["id"] for r in api.get("/referrals", walk.sender, status="draft").json["contents"]] == [ident]

    requested = walk.act(ident, "submit", walk.sender)
    assert requested["status"] == "requested" and requested["first_received_on"] is not None
    # the recipient cannot complete what it has not accepted; the sender cannot acknowledge
    refused = walk.act(ident, "complete", walk.recipient, 409, note="erledigt")
    assert refused["allowed_actions"] == ["acknowledge", "accept", "decline", "forward"]
    assert refused["status"] == "requested"
    refused = walk.act(ident, "acknowledge", walk.sender, 409)
    assert refused["allowed_actions"] == ["cancel", "entered_in_error"]

    seen = api.get(f"/referrals/{ident}", walk.recipient).json
    assert seen["client"] == CLIENT and seen["reason"].startswith("Familie sucht")
    for action, status in [
        ("acknowledge", "acknowledged"),
        ("hold", "on_hold"),
        ("resume", "acknowledged"),
        ("accept", "accepted"),
        ("start", "in_progress"),
        ("hold", "on_hold"),
        ("resume", "in_progress"),
    ]:
        assert walk.act(ident, action, walk.recipient)["status"] == status, action
    assert walk.act(ident, "complete", walk.recipient, 422)["errors"][0]["name"] == "note"
    done = walk.act(ident, "complete", walk.recipient, note="Hilfeplangespräch vereinbart")
    assert done["status"] == "completed" and done["allowed_actions"] == []
    assert walk.act(ident, "hold", walk.recipient, 409)["allowed_actions"] == []

    history = done["history"]
    assert [h["action"] for h in history] == [
        "create",
        "submit",
        "acknowledge",
        "hold",
        "resume",
        "accept",
        "start",
        "hold",
        "resume",
        "complete",
    ]
    assert history[-1]["note"] == "Hilfeplangespräch vereinbart"
    assert history[-1]["by"] == {"subject": "ja-witten-1", "role": "agency", "organization_id": walk.witten}
    assert all(h["at"] for h in history)


def test_decline_needs_a_listed_reason_and_a_text_for_sonstiges(api: Api) -> None:
    walk = Walk(api)
    ident = walk.create()["id"]
    assert walk.act(ident, "decline", walk.recipient, 422)["errors"][0]["name"] == "reason_code"
    assert (
        walk.act(ident, "decline", walk.recipient, 422, reason_code="keine_lust")["errors"][0]["name"] == "reason_code"
    )
    assert walk.act(ident, "decline", walk.recipient, 422, reason_code="sonstiges")["errors"][0]["name"] == "note"
    declined = walk.act(ident, "decline", walk.recipient, reason_code="sonstiges", note="Zuständigkeit beim Land")
    assert declined["status"] == "declined" and declined["decline_reason"] == "sonstiges"
    assert declined["history"][-1]["reason_label"] == "sonstiges"
    assert declined["history"][-1]["note"] == "Zuständigkeit beim Land"
    ident = walk.create()["id"]
    declined = walk.act(ident, "decline", walk.recipient, reason_code="keine_kapazitaet")
    assert declined["history"][-1]["reason_label"] == "keine Kapazität"


def test_forwarding_makes_a_child_for_the_new_recipient_keeping_the_first_received_day(api: Api) -> None:
    walk = Walk(api)
    parent = walk.create()
    assert walk.act(parent["id"], "forward", walk.recipient, 422)["errors"][0]["name"] == "to_organization_id"
    unknown = walk.act(parent["id"], "forward", walk.recipient, 422, to_organization_id="no-such-org")
    assert unknown["errors"][0]["name"] == "to_organization_id"
    # only to a body competent for the referral's legal domain: not a charity, not one of another domain,
    # not the sender, not the recipient itself
    charity = api.directory.org_named("Caritasverband Ennepe-Ruhr-Kreis (Demo)")
    jobcenter = api.directory.org_named("Jobcenter Ennepe-Ruhr-Kreis (Demo)")
    for wrong in (charity, jobcenter, SENDER_ORG, walk.witten):
        refused = walk.act(parent["id"], "forward", walk.recipient, 422, to_organization_id=wrong)
        assert refused["errors"][0]["name"] == "to_organization_id", wrong
    forwarded = walk.act(parent["id"], "forward", walk.recipient, to_organization_id=walk.kreis, note="örtlich Kreis")
    assert forwarded["status"] == "forwarded"
    child_id = forwarded["forwarded_to_id"]
    child = api.get(f"/referrals/{child_id}", walk.kreis_agency).json
    assert child["status"] == "requested" and child["parent_id"] == parent["id"]
    assert child["recipient_name"] == KREIS_JUGENDAMT
    assert child["first_received_on"] == parent["first_received_on"]
    assert child["client"] == CLIENT and child["consent"]["id"] == parent["consent"]["id"]
    assert "§ 16 SGB I" in child["explanation"]
    steps = [(h["action"], h["status_before"], h["status_after"]) for h in child["history"]]
    assert steps == [("forwarded_from", None, "draft"), ("submit", "draft", "requested")]
    # the first recipient keeps seeing its own (forwarded) referral, not the child; the sender sees both
    assert api.get(f"/referrals/{child_id}", walk.recipient).status_code == 404
    assert api.get(f"/referrals/{parent['id']}", walk.recipient).status_code == 200
    listed = api.get("/referrals", walk.sender).json
    assert {r["id"] for r in listed["contents"]} == {parent["id"], child_id} and listed["total_items"] == 2
    assert [r["id"] for r in api.get("/referrals", walk.kreis_agency).json["contents"]] == [child_id]
    assert api.get("/referrals", walk.coordinator).status_code == 403
    walk.act(child_id, "accept", walk.kreis_agency)
    failed = walk.act(child_id, "fail", walk.kreis_agency, note="Familie nicht erreichbar verzogen")
    assert failed["status"] == "failed"


def test_a_forward_the_consent_does_not_cover_waits_for_a_consent_naming_the_new_body(api: Api) -> None:
    walk = Walk(api)
    first_consent = {**body(walk.witten)["consent"], "onward_transfer": False}
    parent = walk.create(consent=first_consent)
    assert parent["consent"]["onward_transfer"] is False
    child_id = walk.act(parent["id"], "forward", walk.recipient, to_organization_id=walk.kreis)["forwarded_to_id"]
    # the new body sees nothing of the client yet: the child is the sender's draft
    assert api.get(f"/referrals/{child_id}", walk.kreis_agency).status_code == 404
    assert api.get("/referrals", walk.kreis_agency).json["total_items"] == 0
    child = api.get(f"/referrals/{child_id}", walk.sender).json
    assert child["status"] == "draft" and child["recipient_name"] == KREIS_JUGENDAMT
    assert "wartet, bis die Einwilligung" in child["explanation"]
    refused = walk.act(child_id, "submit", walk.sender, 422)
    assert (
        refused["errors"][0]["name"] == "consent" and f"/referrals/{child_id}/consent" in refused["errors"][0]["reason"]
    )
    # the consent must name the new body and cover the data; only the sender records it, only on a draft
    wrong = api.post(f"/referrals/{child_id}/consent", first_consent, walk.sender)
    assert wrong.status_code == 422 and wrong.json["errors"][0]["name"] == "consent.recipient_organization_id"
    second = {**first_consent, "recipient_organization_id": walk.kreis, "given_at": "2026-11-25T09:00:00+01:00"}
    narrow = api.post(f"/referrals/{child_id}/consent", {**second, "data_categories": ["name"]}, walk.sender)
    assert narrow.status_code == 422 and "birth_date" in narrow.json["errors"][0]["reason"]
    assert api.post(f"/referrals/{child_id}/consent", second, walk.kreis_agency).status_code == 403
    assert api.post(f"/referrals/{child_id}/consent", second, walk.other_sender).status_code == 404
    recorded = api.post(f"/referrals/{child_id}/consent", second, walk.sender)
    assert recorded.status_code == 200, recorded.json
    assert recorded.json["consent"]["recipient_organization_id"] == walk.kreis
    assert recorded.json["history"][-1]["action"] == "record_consent"
    assert walk.act(child_id, "submit", walk.sender)["status"] == "requested"
    seen = api.get(f"/referrals/{child_id}", walk.kreis_agency).json
    assert seen["client"] == CLIENT and seen["first_received_on"] == parent["first_received_on"]
    again = api.post(f"/referrals/{child_id}/consent", second, walk.sender)
    assert again.status_code == 409


def test_the_sender_cancels_with_a_reason_and_withdrawn_consent_cancels_what_is_open(api: Api) -> None:
    walk = Walk(api)
    first = walk.create()
    assert walk.act(first["id"], "cancel", walk.sender, 422)["errors"][0]["name"] == "reason_code"
    assert walk.act(first["id"], "cancel", walk.sender, 422, reason_code="consent_withdrawn")["errors"][0]["name"] == (
        "reason_code"
    )
    assert walk.act(first["id"], "cancel", walk.sender, reason_code="client_moved")["status"] == "cancelled"

    second = walk.create()
    walk.act(second["id"], "accept", walk.recipient)
    consent_id = second["consent"]["id"]
    assert api.post(f"/consents/{consent_id}/withdraw", None, walk.other_sender).status_code == 404
    assert api.post(f"/consents/{consent_id}/withdraw", None, walk.recipient).status_code == 403
    withdrawn = api.post(f"/consents/{consent_id}/withdraw", None, walk.sender)
    assert withdrawn.status_code == 200 and withdrawn.json["cancelled_referrals"] == [second["id"]]
    after = api.get(f"/referrals/{second['id']}", walk.recipient).json
    assert after["status"] == "cancelled" and after["consent"]["withdrawn_at"]
    assert after["history"][-1]["side"] == "system" and after["history"][-1]["reason_code"] == "consent_withdrawn"
    assert api.post(f"/consents/{consent_id}/withdraw", None, walk.sender).status_code == 409

    third = walk.create()
    assert walk.act(third["id"], "entered_in_error", walk.recipient, 409)["allowed_actions"]
    assert walk.act(third["id"], "entered_in_error", walk.sender)["status"] == "entered_in_error"


def test_every_state_change_is_an_event_without_personal_data(api: Api) -> None:
    walk = Walk(api)
    ident = walk.create()["id"]
    walk.act(ident, "acknowledge", walk.recipient)
    walk.act(ident, "forward", walk.recipient, to_organization_id=walk.kreis)
    with api.container.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_type, outbox.c.routing_key, outbox.c.payload).order_by(outbox.c.seq))
        events = [(t, k, json.loads(p)) for t, k, p in rows]
    assert [(t, k) for t, k, _ in events] == [
        ("referral.requested", "referral.requested.sgb_viii.05954036"),
        ("referral.acknowledged", "referral.acknowledged.sgb_viii.05954036"),
        ("referral.forwarded", "referral.forwarded.sgb_viii.05954036"),
        ("referral.requested", "referral.requested.sgb_viii.05954036"),
    ]
    for event_type, _, payload in events:
        errors = list(event_validator(event_type, 1).iter_errors(payload))
        assert not errors, errors
        text_of = json.dumps(payload, ensure_ascii=False)
        assert "Beispiel" not in text_of and "2009-04-01" not in text_of and "Familie" not in text_of
    forwarded, child = events[2][2]["data"], events[3][2]["data"]
    assert forwarded["forwarded_to_referral_id"] == child["referral_id"]
    assert child["parent_referral_id"] == ident and child["recipient_organization_id"] == walk.kreis
    assert child["first_received_on"] == forwarded["first_received_on"]
    assert len({e["id"] for _, _, e in events}) == 4


def test_client_data_is_encrypted_at_rest_and_every_access_is_audited_for_admins_to_read(api: Api) -> None:
    walk = Walk(api)
    ident = walk.create()["id"]
    api.get(f"/referrals/{ident}", walk.recipient)
    api.get(f"/referrals/{ident}", walk.other_sender)
    walk.act(ident, "acknowledge", walk.sender, 409)
    api.get("/referrals", walk.sender)
    with api.container.engine.connect() as conn:
        stored = " ".join(
            str(v)
            for table in ("referral", "consent", "referral_history")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )
        trail = conn.execute(
            select(audit.c.subject, audit.c.action, audit.c.allowed)
            .where(audit.c.referral_id == ident)
            .order_by(audit.c.seq)
        ).all()
    for secret in ("Amina", "Samira", "2009-04-01", "12345", "Sprachmittlung", "Hilfen zur Erziehung"):
        assert secret not in stored, secret
    assert [tuple(t) for t in trail] == [
        ("cm-1", "create", True),
        ("ja-witten-1", "read", True),
        ("cm-2", "read", False),
        ("cm-1", "action:acknowledge", False),
        ("cm-1", "list", True),
    ]

    admin = api.token(Role.ADMIN, None, "admin-1")
    read = api.get(f"/referrals/{ident}/audit", admin)
    assert read.status_code == 200, read.json
    assert [(r["subject"], r["action"], r["allowed"]) for r in read.json["contents"]] == [tuple(t) for t in trail]
    assert read.json["contents"][1]["organization_id"] == walk.witten and read.json["contents"][1]["role"] == "agency"
    assert api.get(f"/referrals/{ident}/audit", admin).json["contents"][-1]["action"] == "audit_read"
    assert api.get(f"/referrals/{ident}/audit", walk.sender).status_code == 403
    assert api.get(f"/referrals/{ident}/audit", walk.recipient).status_code == 403
    assert api.get(f"/referrals/{uuid.uuid4()}/audit", admin).status_code == 404
    assert api.get("/referrals/nope/audit", admin).json["errors"][0]["name"] == "referral_id"


def test_a_topic_stored_in_the_clear_before_is_sealed_by_db_upgrade(api: Api) -> None:
    walk = Walk(api)
    assert api.get(f"/referrals/{walk.create()['id']}", walk.sender).json["topic"] == "Hilfen zur Erziehung"
    made = body(walk.witten)
    del made["topic"]
    ident = api.post("/referrals", made, walk.sender).json["id"]
    with api.container.engine.begin() as conn:  # as a referral written before topics were sealed
        conn.execute(text("UPDATE referral SET topic = 'Kita-Platz für Amina' WHERE id = :id"), {"id": ident})
    assert api.get(f"/referrals/{ident}", walk.sender).json["topic"] == "Kita-Platz für Amina"
    api.container.migrate()  # as `lotse-routing db upgrade` does
    with api.container.engine.connect() as conn:
        assert conn.execute(text("SELECT topic FROM referral WHERE id = :id"), {"id": ident}).scalar_one() is None
    seen = api.get(f"/referrals/{ident}", walk.sender).json
    assert seen["topic"] == "Kita-Platz für Amina" and seen["client"] == CLIENT


def test_a_birth_date_in_the_future_or_before_1900_is_refused(api: Api) -> None:
    walk = Walk(api)
    for born in ("2999-01-01", "1899-12-31"):
        refused = api.post("/referrals", body(walk.witten, client={**CLIENT, "birth_date": born}), walk.sender)
        assert refused.status_code == 422 and refused.json["errors"][0]["name"] == "client.birth_date", born
    assert walk.count(referral) == 0


def test_coordinators_see_figures_and_no_personal_data(api: Api) -> None:
    walk = Walk(api)
    first = walk.create()["id"]
    walk.act(first, "accept", walk.recipient)
    second = walk.create()["id"]
    walk.act(second, "decline", walk.recipient, reason_code="unterlagen_fehlen")
    figures = api.get("/figures", walk.coordinator)
    assert figures.status_code == 200, figures.json
    # fewer than 5 in a cell: not shown (a 1 for a Gemeinde, a status and a reason can name a family)
    counts = {(c["status"], c["decline_reason"]): (c["count"], c["suppressed"]) for c in figures.json["counts"]}
    assert counts == {("accepted", None): (None, True), ("declined", "unterlagen_fehlen"): (None, True)}
    assert figures.json["min_cell"] == 5
    assert figures.json["median_hours"]["SGB_VIII"] == {
        "to_acknowledged": None,
        "to_accepted": None,
        "referrals": None,
        "suppressed": True,
    }
    for _ in range(4):
        walk.act(walk.create()["id"], "accept", walk.recipient)
    figures = api.get("/figures", walk.coordinator)
    counts = {(c["status"], c["decline_reason"]): (c["count"], c["suppressed"]) for c in figures.json["counts"]}
    assert counts == {("accepted", None): (5, False), ("declined", "unterlagen_fehlen"): (None, True)}
    assert {c["region_key"] for c in figures.json["counts"]} == {"05954036"}
    median = figures.json["median_hours"]["SGB_VIII"]
    assert median["referrals"] == 6 and median["to_acknowledged"] is not None and median["to_accepted"] is not None
    as_text = json.dumps(figures.json, ensure_ascii=False)
    assert first not in as_text and "Amina" not in as_text and SENDER_ORG not in as_text
    assert api.get("/figures", walk.sender).status_code == 403
    assert api.get("/figures", walk.recipient).status_code == 403


def test_figures_per_month_forwarded_and_for_a_region_and_a_period(api: Api) -> None:
    walk = Walk(api)
    for _ in range(5):
        walk.act(walk.create()["id"], "accept", walk.recipient)
    month = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    figures = api.get("/figures", walk.coordinator, region="05954", legal_domain="SGB_VIII").json
    assert figures["months"] == [{"month": month, "legal_domain": "SGB_VIII", "count": 5, "suppressed": False}]
    assert figures["forwarded"] == {"SGB_VIII": {"count": 0, "suppressed": False, "of": 5}}  # a zero names nobody
    for _ in range(5):  # sent first to a body that was not responsible
        walk.act(walk.create()["id"], "forward", walk.recipient, to_organization_id=walk.kreis)
    forwarded = api.get("/figures", walk.coordinator).json["forwarded"]
    assert forwarded == {"SGB_VIII": {"count": 5, "suppressed": False, "of": 15}}  # the 5 children count as sent
    elsewhere = api.get("/figures", walk.coordinator, region="05913").json
    assert elsewhere["counts"] == [] and elsewhere["months"] == [] and elsewhere["forwarded"] == {}
    period = {"from": today.isoformat(), "to": today.isoformat()}
    assert api.get("/figures", walk.coordinator, **period).json["months"][0]["count"] == 15
    later = {"from": (today + timedelta(days=1)).isoformat()}
    assert api.get("/figures", walk.coordinator, **later).json["counts"] == []
    for bad, field in (
        ({"region": "Witten"}, "region"),
        ({"from": "gestern"}, "from"),
        ({**later, "to": "2020-01-01"}, "to"),
    ):
        refused = api.get("/figures", walk.coordinator, **bad)
        assert refused.status_code == 400 and refused.json["errors"][0]["name"] == field, (bad, refused.json)


def test_services_read_routings_events_as_a_change_feed(api: Api) -> None:
    """For notify in embedded mode, which cannot subscribe to routing's in-process bus."""
    walk = Walk(api)
    made = walk.create()
    service = api.token(Role.SERVICE, None, "service:lotse-notify")
    feed = api.get("/events", service, after=0, limit=1000)
    assert feed.status_code == 200, feed.json
    mine = [e for e in feed.json["events"] if e["event"]["data"]["referral_id"] == made["id"]]
    assert [e["event"]["type"] for e in mine] == ["referral.requested"]
    assert mine[0]["routing_key"].startswith("referral.requested.sgb_viii.")
    assert feed.json["last_seq"] >= mine[0]["seq"]
    assert api.get("/events", service, after=feed.json["last_seq"]).json["events"] == []
    assert api.get("/events", walk.sender).status_code == 403
    assert api.get("/events", service, after=-1).status_code == 400


def test_notifys_delivery_reports_are_kept_once_with_the_referral(api: Api) -> None:
    from lotse_contracts import EventEnvelope

    walk = Walk(api)
    made = walk.create()

    def report(kind: str, delivery: str, referral_id: str = made["id"], outcome: str = "delivered") -> EventEnvelope:
        event = EventEnvelope(
            type=f"notification.{kind}",
            source="lotse.notify",
            data={
                "delivery_id": delivery,
                "notification_id": str(uuid.uuid4()),
                "referral_event_id": str(uuid.uuid4()),
                "referral_event_type": "referral.requested",
                "referral_id": referral_id,
                "organization_id": walk.witten,
                "side": "recipient",
                "channel_kind": "email",
                "attempts": 2,
                "legal_domain": "SGB_VIII",
                "region_key": made["region_key"],
                "outcome": outcome,
            },
        )
        event_validator(event.type, 1).validate(event.to_dict())
        return event

    delivered = report("delivered", str(uuid.uuid4()))
    api.container.reports.record(delivered)
    api.container.reports.record(delivered)  # heard twice
    api.container.reports.record(report("failed", str(uuid.uuid4()), outcome="endpoint_gone"))
    api.container.reports.record(report("delivered", str(uuid.uuid4()), referral_id=str(uuid.uuid4())))  # not ours
    seen = api.get(f"/referrals/{made['id']}", walk.sender).json["notifications"]
    assert [(n["channel"], n["outcome"], n["attempts"], n["about"]) for n in seen] == [
        ("email", "delivered", 2, "referral.requested"),
        ("email", "endpoint_gone", 2, "referral.requested"),
    ]
    assert api.get(f"/referrals/{made['id']}", walk.recipient).json["notifications"] == seen


def test_a_database_that_does_not_answer_is_a_503_to_try_again(directory: Directory, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "LOTSE_AUTH_SECRET": SECRET,
            "LOTSE_ROUTING_DIRECTORY_URL": directory.url,
            "LOTSE_VAR_DIR": str(tmp_path),
            "LOTSE_ROUTING_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",  # nothing listens
        }
    )
    container = build(settings)
    api = Api(create_app(settings, container).test_client(), container, directory)
    sender = api.token(Role.CASE_MANAGER, SENDER_ORG)
    answer = api.post("/referrals", body(directory.org_named(WITTEN_JUGENDAMT)), sender)
    assert answer.status_code == 503, answer.json
    assert answer.content_type == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["detail"] == "the database does not answer; try again"
    container.engine.dispose()
