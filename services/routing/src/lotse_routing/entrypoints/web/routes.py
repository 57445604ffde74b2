"""The routing API: who is responsible, referrals and their actions, consent withdrawal, figures."""

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from lotse_contracts import ConsentRole, LegalDomain, ReferralStatus, Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.errors import invalid
from lotse_kit.feed_api import register_change_feed
from lotse_kit.openapi import ApiDoc, Param, json_body, query_args
from lotse_kit.problems import bad_request

from lotse_routing.adapters.ports import FigureScope
from lotse_routing.bootstrap import container_of
from lotse_routing.domain.lifecycle import Action
from lotse_routing.entrypoints.web import schemas
from lotse_routing.use_cases.referrals import (
    ClientData,
    ConsentForm,
    ConsentRecord,
    NewReferral,
    Step,
    Urgency,
)
from lotse_routing.use_cases.responsibility import Answer, Question, ResidenceOf, residence_for
from lotse_routing.use_cases.subject_access import Person

UUID = r"^[0-9a-fA-F-]{36}$"

BERLIN = ZoneInfo("Europe/Berlin")


def _answer(answer: Answer) -> dict[str, object]:
    likely = getattr(answer.decision, "likely", None)
    return {
        "outcome": answer.outcome,
        "legal_domain": answer.question.legal_domain.value,
        "residence_of": answer.question.residence_of.value,
        "places": [
            {
                "region_key": p.place.region_key,
                "gemeinde_key": p.place.region_key if p.place.gemeinde_known else None,
                "postal_code": p.place.postal_code,
                "label": p.label,
                "weight": p.place.weight,
            }
            for p in answer.places
        ],
        "explanation": answer.explanation(),
        "decides": getattr(answer.decision, "decides", None),
        "likely_organization_id": likely.authority_id if likely else None,
        "candidates": [
            {
                "organization_id": c.match.jurisdiction.authority_id,
                "name": c.authority.name if c.authority else None,
                "email": c.authority.email if c.authority else None,
                "jurisdiction": {
                    "id": c.match.jurisdiction.id,
                    "region_key": c.match.jurisdiction.region_key,
                    "postal_codes": sorted(c.match.jurisdiction.postal_codes),
                    "source": c.match.jurisdiction.source,
                    "verified_on": _iso(c.match.jurisdiction.verified_on),
                    "declared_by": c.match.jurisdiction.declared_by or None,
                    "confirmed_by": c.match.jurisdiction.confirmed_by or None,
                },
                "explanation": c.match.explanation(),
                "office": {
                    "location_id": c.office.office.location_id,
                    "name": c.office.office.name,
                    "address": c.office.office.address,
                    "opening_hours": list(c.office.office.opening_hours),
                    "phone": c.office.office.phone,
                    "distance_km": c.office.distance_km,
                }
                if c.office
                else None,
            }
            for c in answer.candidates
        ],
    }


def _consent(body: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord(
        given_by=body["given_by"],
        given_at=datetime.fromisoformat(body["given_at"].replace("Z", "+00:00")).astimezone(UTC),
        form=ConsentForm(body["form"]),
        recipient_organization_id=body["recipient_organization_id"],
        data_categories=tuple(body["data_categories"]),
        onward_transfer=bool(body.get("onward_transfer", False)),
        given_by_role=ConsentRole(body.get("given_by_role", ConsentRole.CLIENT.value)),
        informed_of=tuple(body["informed_of"]),
    )


def _person(body: dict[str, Any]) -> Person:
    try:
        born = date.fromisoformat(body["birth_date"])
    except ValueError:
        raise invalid("birth_date", "is no date of the calendar (YYYY-MM-DD)") from None
    return Person(body["name"], born)


def _residence(given: str | None) -> ResidenceOf | None:
    return ResidenceOf(given) if given is not None else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


RESPONSIBLE_PARAMS = (
    Param(
        "legal_domain",
        {"enum": [d.value for d in LegalDomain]},
        "the Rechtskreis (common spellings too: AufenthG, SGB II, sgb2)",
        required=True,
        parse=LegalDomain,
    ),
    Param("location", schemas.LOCATION, "PLZ, 'PLZ Ort', postal address, Gemeinde name or AGS", required=True),
    Param(
        "residence_of",
        {"enum": [r.value for r in ResidenceOf]},
        "whose habitual residence the location is: client (the default but for SGB_VIII); SGB_VIII: parents or "
        "custodial_parent (§ 86 SGB VIII)",
    ),
    Param("topic", {"type": "string", "maxLength": 200}),
    Param("language", {"type": "string", "pattern": "^[a-z]{2,3}$"}),
)

LIST_PARAMS = (
    Param("status", {"enum": [s.value for s in ReferralStatus]}),
    Param(
        "sort",
        {"enum": ["changed", "newest", "oldest", "due"], "default": "changed"},
        "changed: latest change first; newest/oldest: by when sent; due: the acknowledgement due soonest first",
    ),
    Param("overdue", {"type": "boolean", "default": False}, "only those whose acknowledgement is overdue"),
    Param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
)


def _check_uuid(name: str, value: str) -> None:
    if not re.match(UUID, value):
        raise bad_request(name, "is not a referral id")


def register_routes(bp: Blueprint, doc: ApiDoc) -> None:
    new_schema = doc.add_schema("new_referral", schemas.NEW_REFERRAL)
    step_schema = doc.add_schema("referral_step", schemas.STEP)
    consent_schema = doc.add_schema("consent", schemas.CONSENT)
    answer_schema = doc.add_schema("responsible_answer", schemas.ANSWER)
    referral_schema = doc.add_schema("referral", schemas.REFERRAL)
    page_schema = doc.add_schema("referral_page", schemas.REFERRAL_PAGE)
    audit_schema = doc.add_schema("referral_audit", schemas.AUDIT)
    withdrawn_schema = doc.add_schema("consent_withdrawn", schemas.WITHDRAWN)
    person_schema = doc.add_schema("person", schemas.PERSON)
    erasure_schema = doc.add_schema("erasure", schemas.ERASURE)
    report_schema = doc.add_schema("subject_report", schemas.SUBJECT_REPORT)
    erased_schema = doc.add_schema("erased", schemas.ERASED)
    figures_schema = doc.add_schema("figures", schemas.FIGURES)

    @require_roles(Role.CASE_MANAGER, Role.AGENCY, Role.MAINTAINER, Role.ADMIN)
    def responsible() -> Response:
        """The authority responsible for a legal domain at a place, its nearest office, and why."""
        args = query_args(RESPONSIBLE_PARAMS)
        domain = LegalDomain(args["legal_domain"])
        question = Question(
            domain,
            args["location"],
            residence_for(domain, _residence(args.get("residence_of"))),
            args.get("topic"),
            args.get("language"),
        )
        return jsonify(_answer(container_of(current_app).responsibility.ask(question)))

    doc.route(
        bp,
        "/responsible",
        "GET",
        "Who is responsible?",
        tags=["responsibility"],
        params=RESPONSIBLE_PARAMS,
        responses={200: ("The answer: responsible, ambiguous or no jurisdiction", answer_schema)},
    )(responsible)

    @require_roles(Role.CASE_MANAGER)
    def create() -> Response:
        """Refer a client: the recipient is decided here, the consent is recorded, the client's data sealed."""
        new = _new_referral(json_body(new_schema))
        view = container_of(current_app).referrals.create(current_claims(), new)
        response = jsonify(view)
        response.status_code = 201
        response.headers["Location"] = url_for(".referral_get", referral_id=view["id"])
        return response

    doc.route(
        bp,
        "/referrals",
        "POST",
        "Create a referral",
        tags=["referrals"],
        body=new_schema,
        responses={
            201: ("Created", referral_schema),
            422: ("Invalid, no consent, or no/ambiguous responsibility", None),
        },
    )(create)

    revised_schema = doc.add_schema(
        "revised_referral",
        {
            **schemas.NEW_REFERRAL,
            "required": [*schemas.NEW_REFERRAL["required"], "revision"],
            "properties": {
                **schemas.NEW_REFERRAL["properties"],
                "revision": {"type": "integer", "minimum": 1, "description": "the draft's revision as read"},
            },
        },
    )

    @require_roles(Role.CASE_MANAGER)
    def revise(referral_id: str) -> Response:
        """Write a draft anew (the body of creating it, and the revision read): the recipient is decided again
        and the consent recorded anew; with ``draft: false`` it is sent at once. 409 when it is no draft of
        the caller's organisation any more or changed meanwhile."""
        _check_uuid("referral_id", referral_id)
        body = json_body(revised_schema)
        new = _new_referral(body)
        return jsonify(container_of(current_app).referrals.revise(current_claims(), referral_id, new, body["revision"]))

    doc.route(
        bp,
        "/referrals/<referral_id>",
        "PUT",
        "Change a draft",
        tags=["referrals"],
        body=revised_schema,
        responses={200: ("Changed (and sent, without draft)", referral_schema), 409: ("No draft, or changed", None)},
    )(revise)

    @require_roles()
    def referral_list() -> Response:
        """Referrals sent by your organisation (case managers) or addressed to it (agencies)."""
        args = query_args(LIST_PARAMS)
        status = ReferralStatus(args["status"]) if "status" in args else None
        rows, total, counts = container_of(current_app).referrals.page(
            current_claims(), status, args["page"], args["per_page"], args["sort"], args["overdue"]
        )
        pages = (total + args["per_page"] - 1) // args["per_page"]
        return jsonify(
            {
                "total_items": total,
                "page": args["page"],
                "per_page": args["per_page"],
                "total_pages": pages,
                "contents": rows,
                "counts_by_status": counts,
            }
        )

    doc.route(
        bp,
        "/referrals",
        "GET",
        "List referrals",
        tags=["referrals"],
        params=LIST_PARAMS,
        responses={200: ("A page of referral summaries", page_schema)},
    )(referral_list)

    @require_roles()
    def referral_get(referral_id: str) -> Response:
        """One referral with the client's data, the consent and the history (read is audited)."""
        _check_uuid("referral_id", referral_id)
        query_args(())
        return jsonify(container_of(current_app).referrals.get(current_claims(), referral_id))

    doc.route(
        bp,
        "/referrals/<referral_id>",
        "GET",
        "Read a referral",
        tags=["referrals"],
        responses={200: ("The referral as the caller sees it", referral_schema)},
    )(referral_get)

    @require_roles(Role.ADMIN)
    def referral_audit(referral_id: str) -> Response:
        """Every read, change and refused attempt on the referral: who (subject, role, organisation), what,
        when, allowed or not, oldest first. For admins; reading it is audited too."""
        _check_uuid("referral_id", referral_id)
        query_args(())
        return jsonify({"contents": container_of(current_app).audit.of_referral(current_claims(), referral_id)})

    doc.route(
        bp,
        "/referrals/<referral_id>/audit",
        "GET",
        "The referral's audit log",
        tags=["referrals"],
        responses={200: ("Every access, oldest first", audit_schema)},
    )(referral_audit)

    @require_roles()
    def referral_act(referral_id: str, action: str) -> Response:
        """Take an action: submit, acknowledge, accept, start, decline, forward, hold, resume, complete, fail,
        cancel, entered_in_error. A move the lifecycle does not allow answers 409 with the allowed ones."""
        _check_uuid("referral_id", referral_id)
        if action not in schemas.ACTIONS:
            raise bad_request("action", f"is not one of: {', '.join(schemas.ACTIONS)}")
        body = json_body(step_schema) if _has_body() else {}
        step = Step(Action(action), body.get("reason_code"), body.get("note"), body.get("to_organization_id"))
        return jsonify(container_of(current_app).referrals.act(current_claims(), referral_id, step))

    doc.route(
        bp,
        "/referrals/<referral_id>/<action>",
        "POST",
        "Act on a referral",
        tags=["referrals"],
        body=step_schema,
        responses={200: ("Done", referral_schema), 409: ("Not allowed now; allowed_actions lists what is", None)},
    )(referral_act)

    @require_roles(Role.CASE_MANAGER)
    def referral_consent(referral_id: str) -> Response:
        """Record the client's consent for a draft's recipient: a forward the first consent did not cover
        (no onward_transfer) waits as a draft for it; then submit."""
        _check_uuid("referral_id", referral_id)
        consent = _consent(json_body(consent_schema))
        return jsonify(container_of(current_app).referrals.record_consent(current_claims(), referral_id, consent))

    doc.route(
        bp,
        "/referrals/<referral_id>/consent",
        "POST",
        "Record a consent for a draft",
        tags=["consent"],
        body=consent_schema,
        responses={200: ("Recorded", referral_schema), 409: ("The referral is no draft", None)},
    )(referral_consent)

    @require_roles(Role.CASE_MANAGER, Role.ADMIN)
    def consent_withdraw(consent_id: str) -> Response:
        """The client withdrew consent: recorded, and every open referral resting on it is cancelled."""
        _check_uuid("consent_id", consent_id)
        cancelled = container_of(current_app).referrals.withdraw_consent(current_claims(), consent_id)
        return jsonify({"consent_id": consent_id, "cancelled_referrals": cancelled})

    doc.route(
        bp,
        "/consents/<consent_id>/withdraw",
        "POST",
        "Withdraw a consent",
        tags=["consent"],
        responses={200: ("Recorded; the referrals it cancelled", withdrawn_schema)},
    )(consent_withdraw)

    @require_roles(Role.ADMIN)
    def subject_access() -> Response:
        """Everything routing holds about one person (DSGVO Art. 15), found by name and birth date: every
        referral with its consent, history and delivery reports, and every audit entry on them. A POST, so
        that the name is in no address or access log. For admins; the search is audited."""
        person = _person(json_body(person_schema))
        return jsonify(container_of(current_app).subject_access.report(current_claims(), person))

    doc.route(
        bp,
        "/subject-access",
        "POST",
        "What is held about a person",
        tags=["data protection"],
        body=person_schema,
        responses={200: ("The person's referrals, consents and audit entries", report_schema)},
    )(subject_access)

    @require_roles(Role.ADMIN)
    def subject_erase() -> Response:
        """Erase, on the person's request (DSGVO Art. 17), the client data of the named referrals about them,
        all or none: each must be about them (else 422) and closed (else 409: withdraw the consent first,
        which cancels an open referral). Status, dates and codes stay for the figures; the erasure is audited."""
        body = json_body(erasure_schema)
        erased = container_of(current_app).subject_access.erase(current_claims(), _person(body), body["referral_ids"])
        return jsonify({"erased": erased})

    doc.route(
        bp,
        "/subject-access/erase",
        "POST",
        "Erase a person's data on request",
        tags=["data protection"],
        body=erasure_schema,
        responses={
            200: ("Erased", erased_schema),
            409: ("A referral is still open; open_referrals names them", None),
        },
    )(subject_erase)

    figure_params = (
        Param("legal_domain", {"enum": [d.value for d in LegalDomain]}, parse=LegalDomain),
        Param("region", {"type": "string", "pattern": "^[0-9]{2,12}$"}, "a Land, Kreis or Gemeinde key (AGS prefix)"),
        Param("from", {"type": "string", "format": "date"}, "sent on or after this day (German time)"),
        Param("to", {"type": "string", "format": "date"}, "sent on or before this day (German time)"),
    )

    @require_roles(Role.COORDINATOR, Role.ADMIN)
    def figures() -> Response:
        """Counts per domain, region, status and decline reason, per month and forwarded; median hours to
        acknowledgement and acceptance. No personal data."""
        args = query_args(figure_params)
        domain = args.get("legal_domain")
        scope = FigureScope(
            legal_domain=LegalDomain(domain).value if domain else None,
            region=args.get("region"),
            since=_local_day(args, "from"),
            until=_local_day(args, "to", days_after=1),
        )
        if scope.since and scope.until and scope.until <= scope.since:
            raise bad_request("to", "is before from")
        return jsonify(container_of(current_app).figures.counts(current_claims(), scope))

    doc.route(
        bp,
        "/figures",
        "GET",
        "Figures for coordination",
        tags=["figures"],
        params=figure_params,
        responses={200: ("Counts and medians, small cells suppressed", figures_schema)},
    )(figures)
    register_change_feed(bp, doc, lambda: container_of(current_app).outbox, "routing")


def _local_day(args: dict[str, Any], name: str, days_after: int = 0) -> datetime | None:
    """The start of a day given as YYYY-MM-DD in German time (``days_after``: of a later day)."""
    if not args.get(name):
        return None
    try:
        day = date.fromisoformat(str(args[name]))
    except ValueError:
        raise bad_request(name, "is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day + timedelta(days=days_after), time(), tzinfo=BERLIN)


def _has_body() -> bool:
    return bool(request.get_data(cache=True))


def _new_referral(body: dict[str, Any]) -> NewReferral:
    """A referral as the case manager wrote it (creating it, or writing a draft anew)."""
    try:
        domain = LegalDomain(body["legal_domain"])
    except ValueError:
        raise invalid("legal_domain", f"is not one of: {', '.join(d.value for d in LegalDomain)}") from None
    c = body["client"]
    consent = body.get("consent")
    return NewReferral(
        question=Question(
            domain,
            body["location"],
            residence_for(domain, _residence(body.get("residence_of")))
            if not body.get("service_id")
            else _residence(body.get("residence_of")) or ResidenceOf.CLIENT,  # an offer: no rule asks whose
            body.get("topic"),
            body.get("language"),
        ),
        client=ClientData(
            name=c["name"],
            birth_date=date.fromisoformat(c["birth_date"]) if c.get("birth_date") else None,
            phone=c.get("phone"),
            email=c.get("email"),
            address=c.get("address"),
        ),
        consent=_consent(consent) if consent else None,
        reason=body["reason"],
        urgency=Urgency(body.get("urgency", "normal")),
        recipient_organization_id=body.get("recipient_organization_id"),
        draft=bool(body.get("draft", False)),
        service_id=body.get("service_id"),
    )
