"""Notify's API: each organisation's inbox, the operators' dead deliveries and their re-drive, paused
endpoints, the change feed."""

import re

from flask import Blueprint, Response, current_app, jsonify, request
from lotse_contracts import Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.errors import Conflict, NotFound, Unavailable
from lotse_kit.feed_api import register_change_feed
from lotse_kit.openapi import ApiDoc, Param, answer_object, json_body, paged_answer, query_args
from lotse_kit.problems import bad_request

from lotse_notify.adapters.ports import ChannelsUnavailable
from lotse_notify.bootstrap import container_of

UUID = r"^[0-9a-fA-F-]{36}$"
PAGING = (
    Param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
)
INBOX_PARAMS = (Param("unread", {"type": "boolean", "default": False}, "only notifications not yet read"), *PAGING)
MARK_READ = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ids": {
            "type": "array",
            "items": {"type": "string", "pattern": UUID},
            "maxItems": 1000,
            "description": "the notifications to mark read; leave out to mark every unread one",
        }
    },
}


_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


INBOX = paged_answer(
    answer_object(
        {
            "id": _STR,
            "event_id": _STR,
            "event_type": _STR,
            "organization_id": _STR,
            "side": {"enum": ["recipient", "sender"]},
            "referral_id": _STR,
            "legal_domain": _STR,
            "region_key": _STR,
            "referral_status": _STR,
            "urgency": _OPT_STR,
            "created_at": _TIME,
            "read_at": _TIME,
            "read_by": _OPT_STR,
        }
    )
)
MARKED = answer_object({"marked": {"type": "integer", "minimum": 0}})
DEAD = paged_answer(
    answer_object(
        {
            "id": _STR,
            "kind": {"enum": ["webhook", "email"]},
            "channel_id": _STR,
            "attempts": {"type": "integer"},
            "last_status": {"type": ["integer", "null"]},
            "last_error": _OPT_STR,
            "updated_at": _TIME,
            "organization_id": _STR,
            "referral_id": _STR,
            "event_type": _STR,
            "created_at": _TIME,
        }
    )
)
PAUSED = answer_object(
    {
        "contents": {
            "type": "array",
            "items": answer_object(
                {
                    "target": _STR,
                    "until": _TIME,
                    "failures": {"type": "integer"},
                    "since": _TIME,
                    "detail": _STR,
                    "waiting": {"type": "integer"},
                }
            ),
        }
    }
)
REDRIVEN = answer_object({"delivery_id": _STR, "state": {"const": "pending"}})
TESTED = answer_object({"delivered": {"type": "boolean"}, "status": {"type": ["integer", "null"]}, "detail": _STR})


def _page(rows: list[dict[str, object]], total: int, page: int, per_page: int) -> Response:
    pages = (total + per_page - 1) // per_page
    return jsonify({"total_items": total, "page": page, "per_page": per_page, "total_pages": pages, "contents": rows})


def register_routes(bp: Blueprint, doc: ApiDoc) -> None:
    mark_schema = doc.add_schema("mark_read", MARK_READ)
    inbox_schema = doc.add_schema("inbox_page", INBOX)
    marked_schema = doc.add_schema("marked_read", MARKED)
    dead_schema = doc.add_schema("dead_deliveries", DEAD)
    paused_schema = doc.add_schema("paused_endpoints", PAUSED)
    redriven_schema = doc.add_schema("redriven", REDRIVEN)
    tested_schema = doc.add_schema("test_delivery", TESTED)

    @require_roles()
    def inbox() -> Response:
        """Notifications for your organisation, newest first: the referral's id, domain, region and status
        (no personal data; open the referral in routing), and whether and by whom it was read."""
        args = query_args(INBOX_PARAMS)
        rows, total = container_of(current_app).inbox.page(
            current_claims(), args["unread"], args["page"], args["per_page"]
        )
        return _page(rows, total, args["page"], args["per_page"])

    doc.route(
        bp,
        "/inbox",
        "GET",
        "Your organisation's notifications",
        tags=["inbox"],
        params=INBOX_PARAMS,
        responses={200: ("A page of notifications, newest first", inbox_schema)},
    )(inbox)

    @require_roles()
    def mark_read() -> Response:
        """Mark notifications of your organisation read (all unread ones without ``ids``)."""
        body = json_body(mark_schema)
        marked = container_of(current_app).inbox.mark_read(current_claims(), body.get("ids"))
        return jsonify({"marked": marked})

    doc.route(
        bp,
        "/inbox/read",
        "POST",
        "Mark notifications read",
        tags=["inbox"],
        body=mark_schema,
        responses={200: ("How many were marked", marked_schema)},
    )(mark_read)

    @require_roles(Role.ADMIN)
    def dead() -> Response:
        """Deliveries notify gave up on (every attempt failed, endpoint gone, channel removed), newest first."""
        args = query_args(PAGING)
        rows, total = container_of(current_app).deliveries.dead(args["per_page"], (args["page"] - 1) * args["per_page"])
        return _page(rows, total, args["page"], args["per_page"])

    doc.route(
        bp,
        "/deliveries/dead",
        "GET",
        "Dead deliveries",
        tags=["operations"],
        params=PAGING,
        responses={200: ("A page of dead deliveries", dead_schema)},
    )(dead)

    @require_roles(Role.ADMIN)
    def paused() -> Response:
        """Webhook endpoints that gave no answer (refused, unreachable, timed out), the longest quiet first:
        deliveries to them wait until ``until`` instead of each holding a worker until the timeout; then one
        attempt probes the endpoint, and any answer ends the pause. ``waiting``: deliveries due to it."""
        return jsonify({"contents": container_of(current_app).deliveries.paused()})

    doc.route(
        bp,
        "/endpoints/paused",
        "GET",
        "Paused webhook endpoints",
        tags=["operations"],
        responses={200: ("The paused endpoints", paused_schema)},
    )(paused)

    @require_roles(Role.ADMIN)
    def redrive(delivery_id: str) -> Response:
        """Try a dead delivery again from the start (also an endpoint that answered 410 before)."""
        if not re.match(UUID, delivery_id):
            raise bad_request("delivery_id", "is not a UUID")
        container = container_of(current_app)
        if not container.deliveries.redrive(delivery_id, container.jobs):
            raise Conflict("no dead delivery with this id", {"delivery_id": delivery_id})
        response = jsonify({"delivery_id": delivery_id, "state": "pending"})
        response.status_code = 202
        return response

    doc.route(
        bp,
        "/deliveries/<delivery_id>/redrive",
        "POST",
        "Re-drive a dead delivery",
        tags=["operations"],
        responses={202: ("Pending again", redriven_schema), 409: ("No dead delivery with this id", None)},
    )(redrive)

    @require_roles(Role.AGENCY, Role.MAINTAINER, Role.ADMIN)
    def test_delivery(channel_id: str) -> Response:
        """Send a test message over one of your organisation's channels now (who may manage the channel in the
        directory may test it): whether the webhook endpoint or the mail server took it, and what it answered.
        Nothing is kept or retried; the message holds no referral."""
        if not re.match(UUID, channel_id):
            raise bad_request("channel_id", "is not a UUID")
        token = request.headers["Authorization"].partition(" ")[2].strip()
        try:
            attempt = container_of(current_app).deliveries.send_test(token, channel_id)
        except ChannelsUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        if attempt is None:
            raise NotFound("notification_channel", channel_id)
        return jsonify({"delivered": attempt.ok, "status": attempt.status, "detail": attempt.detail})

    doc.route(
        bp,
        "/notification_channels/<channel_id>/test",
        "POST",
        "Send a test message over a channel",
        tags=["inbox"],
        responses={200: ("What the endpoint or mail server answered", tested_schema), 404: ("No such channel", None)},
    )(test_delivery)
    register_change_feed(bp, doc, lambda: container_of(current_app).outbox, "notify")
