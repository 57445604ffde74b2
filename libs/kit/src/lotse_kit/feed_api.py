"""Serving a service's change feed (its outbox, in order) for the readers of :mod:`lotse_kit.feed`."""

from collections.abc import Callable

from flask import Blueprint, Response, jsonify
from lotse_contracts import Role

from lotse_kit.auth import require_roles
from lotse_kit.openapi import ApiDoc, Param, query_args
from lotse_kit.outbox import SqlOutbox

FEED = {
    "type": "object",
    "required": ["events", "last_seq"],
    "properties": {
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["seq", "routing_key", "event"],
                "properties": {
                    "seq": {"type": "integer"},
                    "routing_key": {"type": "string"},
                    "event": {"type": "object", "required": ["id", "type", "version", "source", "time", "data"]},
                },
            },
        },
        "last_seq": {"type": "integer", "minimum": 0},
    },
}
FEED_PARAMS = (
    Param("after", {"type": "integer", "minimum": 0, "default": 0}, "events after this sequence number"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500}, "at most this many"),
)


def register_change_feed(bp: Blueprint, doc: ApiDoc, outbox: Callable[[], SqlOutbox], service: str) -> None:
    """``GET /events``: a service's events in the order written (its outbox), for Lotse services and admins."""

    @require_roles(Role.SERVICE, Role.ADMIN)
    def events() -> Response:
        """Events after ``after``, oldest first, each with ``seq``, ``routing_key`` and ``event``; and
        ``last_seq``, the newest sequence number. For services that cannot subscribe to the broker
        (embedded mode)."""
        args = query_args(FEED_PARAMS)
        found, last = outbox().since(args["after"], args["limit"])
        return jsonify({"events": found, "last_seq": last})

    schema = doc.add_schema("change_feed", FEED)
    doc.route(
        bp,
        "/events",
        "GET",
        f"Change feed ({service} events)",
        tags=["meta"],
        params=FEED_PARAMS,
        responses={200: ("The events after `after`, oldest first", schema)},
    )(events)
