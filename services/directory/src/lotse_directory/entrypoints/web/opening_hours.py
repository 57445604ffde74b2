"""An offer's opening hours as the maintainers' editor reads and writes them (one thing, guarded by the offer's
ETag)."""

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, Param, json_body

from lotse_directory.bootstrap import container_of
from lotse_directory.domain.opening_hours import WEEKDAYS
from lotse_directory.entrypoints.web.entries import MAINTAINERS, check_id
from lotse_directory.use_cases.opening_hours import Hours

_TIME = {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}
_DATE = {"type": "string", "format": "date"}
HOURS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["weekly", "by_appointment", "closed_on_public_holidays", "closures"],
    "properties": {
        "weekly": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["days", "opens_at", "closes_at"],
                "properties": {
                    "days": {"type": "array", "items": {"enum": list(WEEKDAYS)}, "minItems": 1, "uniqueItems": True},
                    "opens_at": _TIME,
                    "closes_at": _TIME,
                },
            },
        },
        "by_appointment": {"type": "boolean"},
        "closed_on_public_holidays": {"type": "boolean"},
        "closures": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["from", "to"],
                "properties": {"from": _DATE, "to": _DATE, "note": {"type": "string", "maxLength": 200}},
            },
        },
    },
}


def _answer(found: Hours) -> Response:
    service = found.service.values
    response = jsonify(
        {"service_id": service["id"], "service_name": service["name"], **found.hours, "kept": found.kept}
    )
    response.headers["ETag"] = found.service.etag
    return response


def register_opening_hours_routes(bp: Blueprint, doc: ApiDoc) -> None:
    schema = doc.add_schema("opening_hours", HOURS_SCHEMA)
    path = "/services/<ident>/opening_hours"

    @require_roles()
    def read(ident: str) -> Response:
        check_id(ident)
        return _answer(container_of(current_app).opening_hours.get(current_claims(), ident))

    read.__name__ = "opening_hours_get"
    doc.route(
        bp,
        path,
        "GET",
        "An offer's own opening hours as the editor shows them (ETag: the offer's)",
        tags=["services"],
        responses={200: ("the offer's id and name, weekly ranges, nach Vereinbarung, holidays, closures, kept", None)},
    )(read)

    @require_roles(*MAINTAINERS)
    def replace(ident: str) -> Response:
        check_id(ident)
        hours = json_body(schema)
        found = container_of(current_app).opening_hours.replace(
            current_claims(), ident, hours, request.headers.get("If-Match")
        )
        return _answer(found)

    replace.__name__ = "opening_hours_put"
    doc.route(
        bp,
        path,
        "PUT",
        "Replace an offer's own opening hours (If-Match: the offer's ETag; one transaction)",
        tags=["services"],
        body=schema,
        params=(Param("If-Match", {"type": "string"}, "the offer's ETag you read", True, "header"),),
        responses={200: ("The hours now", None), 412: ("The offer changed meanwhile", None)},
    )(replace)
