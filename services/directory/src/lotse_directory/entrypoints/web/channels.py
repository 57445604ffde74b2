"""Notification channels of an organisation (webhook, e-mail): its maintainers keep them, notify reads them."""

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from lotse_contracts import Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, Param, json_body

from lotse_directory.bootstrap import container_of
from lotse_directory.entrypoints.web.entries import MAINTAINERS, check_id
from lotse_directory.use_cases.channels import EDITABLE, KINDS, MAX_ROTATION_HOURS, NotificationChannels

TAGS = ["notification channels"]
IF_MATCH = (Param("If-Match", {"type": "string"}, "the ETag you read", True, "header"),)

CHANNEL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "target"],
    "properties": {
        "kind": {"enum": list(KINDS)},
        "target": {
            "type": "string",
            "minLength": 3,
            "maxLength": 2000,
            "description": "webhook: https URL (http only to localhost); email: one address",
        },
        "description": {"type": ["string", "null"], "maxLength": 500},
        "enabled": {"type": "boolean", "default": True},
    },
}
CHANNEL_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {k: v for k, v in CHANNEL["properties"].items() if k in EDITABLE},  # type: ignore[attr-defined]
}
ROTATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "keep_old_hours": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_ROTATION_HOURS,
            "default": 24,
            "description": "how long the secrets before keep signing as well (0: stop at once)",
        }
    },
}


def _channels() -> NotificationChannels:
    return container_of(current_app).channels


def _answer(channel: dict[str, object], status: int = 200) -> Response:
    response = jsonify(channel)
    response.status_code = status
    response.headers["ETag"] = f'"{channel["revision"]}"'
    return response


def register_channel_routes(bp: Blueprint, doc: ApiDoc) -> None:
    create_schema = doc.add_schema("notification_channel", CHANNEL)
    patch_schema = doc.add_schema("notification_channel_patch", CHANNEL_PATCH)
    rotation_schema = doc.add_schema("notification_channel_rotation", ROTATION)
    collection = "/organizations/<organization_id>/notification_channels"
    item = "/notification_channels/<ident>"

    @require_roles(*MAINTAINERS, Role.AGENCY, Role.SERVICE)
    def list_channels(organization_id: str) -> Response:
        """The organisation's channels with their active secrets: for its maintainers, admins and Lotse services."""
        check_id(organization_id)
        found = _channels().of(current_claims(), organization_id)
        return jsonify({"total_items": len(found), "contents": found})

    doc.route(bp, collection, "GET", "An organisation's notification channels", tags=TAGS)(list_channels)

    @require_roles(*MAINTAINERS, Role.AGENCY)
    def create_channel(organization_id: str) -> Response:
        """A new channel; a webhook gets its first secret (``whsec_…``), shown in the answer."""
        check_id(organization_id)
        channel = _channels().create(current_claims(), organization_id, json_body(create_schema))
        response = _answer(channel, 201)
        response.headers["Location"] = url_for(".get_channel", ident=channel["id"])
        return response

    doc.route(bp, collection, "POST", "Add a notification channel", tags=TAGS, body=create_schema)(create_channel)

    @require_roles(*MAINTAINERS, Role.AGENCY, Role.SERVICE)
    def get_channel(ident: str) -> Response:
        check_id(ident)
        return _answer(_channels().get(current_claims(), ident))

    doc.route(bp, item, "GET", "A notification channel", tags=TAGS)(get_channel)

    @require_roles(*MAINTAINERS, Role.AGENCY)
    def update_channel(ident: str) -> Response:
        """Change the target, description or whether it is used (a webhook endpoint marked gone by a
        ``410`` is tried again after any change)."""
        check_id(ident)
        patch = json_body(patch_schema)
        return _answer(_channels().update(current_claims(), ident, patch, request.headers.get("If-Match")))

    doc.route(
        bp,
        item,
        "PATCH",
        "Change a notification channel (If-Match required)",
        tags=TAGS,
        body=patch_schema,
        body_content_types=("application/merge-patch+json", "application/json"),
        params=IF_MATCH,
    )(update_channel)

    @require_roles(*MAINTAINERS, Role.AGENCY)
    def delete_channel(ident: str) -> Response:
        check_id(ident)
        _channels().delete(current_claims(), ident, request.headers.get("If-Match"))
        return Response(status=204)

    doc.route(bp, item, "DELETE", "Remove a notification channel (If-Match required)", tags=TAGS, params=IF_MATCH)(
        delete_channel
    )

    @require_roles(*MAINTAINERS, Role.AGENCY)
    def rotate_secret(ident: str) -> Response:
        """A new webhook secret; the ones before keep signing as well for ``keep_old_hours``."""
        check_id(ident)
        body = json_body(rotation_schema) if request.get_data() else {}
        keep = int(body.get("keep_old_hours", 24))
        return _answer(_channels().rotate_secret(current_claims(), ident, keep, request.headers.get("If-Match")))

    doc.route(
        bp,
        f"{item}/rotate_secret",
        "POST",
        "Rotate a webhook's secret (If-Match required)",
        tags=TAGS,
        body=rotation_schema,
        params=IF_MATCH,
    )(rotate_secret)
