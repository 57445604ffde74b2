"""Users of embedded mode, kept by administrators: list, invite, change, deactivate, reset a password; and the
page-less part of a password link (whose it is, and setting the password), which needs no account."""

import re

from flask import Blueprint, Response, current_app, jsonify
from lotse_contracts import Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, json_body
from lotse_kit.problems import bad_request

from lotse_directory.bootstrap import container_of
from lotse_directory.use_cases.users import UserAdministration

TOKEN = re.compile(r"^[A-Za-z0-9_.-]{20,400}$")
_ROLES = {"enum": [r.value for r in Role]}
_REGIONS = {"type": "array", "maxItems": 50, "items": {"type": "string", "pattern": "^[0-9]{2,12}$"}}
_ORG = {"type": ["string", "null"], "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
_EMAIL = {"type": ["string", "null"], "maxLength": 200, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"}
USER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "role"],
    "properties": {
        "id": {"type": "string", "minLength": 2, "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "role": _ROLES,
        "organization_id": _ORG,
        "regions": _REGIONS,
        "email": _EMAIL,
    },
}
USER_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "role": _ROLES,
        "organization_id": _ORG,
        "regions": _REGIONS,
        "email": _EMAIL,
        "active": {"type": "boolean"},
    },
}
PASSWORD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["password"],
    "properties": {"password": {"type": "string", "minLength": 1, "maxLength": 200}},
}


def _users() -> UserAdministration:
    return container_of(current_app).users


def _token(token: str) -> str:
    if not TOKEN.match(token):
        raise bad_request("token", "is not a password link's token")
    return token


def _login(login: str) -> str:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", login):
        raise bad_request("id", "is not a login")
    return login


def register_user_routes(bp: Blueprint, doc: ApiDoc) -> None:
    user_schema = doc.add_schema("user", USER)
    patch_schema = doc.add_schema("user_patch", USER_PATCH)
    password_schema = doc.add_schema("password", PASSWORD)

    @require_roles(Role.ADMIN)
    def listing() -> Response:
        return jsonify({"contents": _users().users(current_claims())})

    listing.__name__ = "users_list"
    doc.route(bp, "/users", "GET", "The users (admins)", tags=["users"])(listing)

    @require_roles(Role.ADMIN)
    def invite() -> Response:
        response = jsonify(_users().invite(current_claims(), json_body(user_schema)))
        response.status_code = 201
        return response

    invite.__name__ = "users_invite"
    doc.route(
        bp,
        "/users",
        "POST",
        "Invite a user: no password yet, a link (token) to set one (admins; embedded mode)",
        tags=["users"],
        body=user_schema,
        responses={201: ("user, token, expires_at", None), 409: ("The login exists, or scale mode", None)},
    )(invite)

    @require_roles(Role.ADMIN)
    def change(login: str) -> Response:
        return jsonify(_users().change(current_claims(), _login(login), json_body(patch_schema)))

    change.__name__ = "users_change"
    doc.route(
        bp,
        "/users/<login>",
        "PATCH",
        "Change a user: name, e-mail, role, organisation, regions, active (admins)",
        tags=["users"],
        body=patch_schema,
    )(change)

    @require_roles(Role.ADMIN)
    def reset(login: str) -> Response:
        response = jsonify(_users().reset(current_claims(), _login(login)))
        response.status_code = 201
        return response

    reset.__name__ = "users_reset_password"
    doc.route(
        bp,
        "/users/<login>/password_link",
        "POST",
        "Reset a user's password: the old one stops working; a new link to set one (admins; embedded mode)",
        tags=["users"],
        responses={201: ("token, expires_at", None)},
    )(reset)

    def whose(token: str) -> Response:
        return jsonify(_users().link(_token(token)))

    whose.__name__ = "password_link_get"
    doc.route(
        bp,
        "/password_links/<token>",
        "GET",
        "Whose password a link sets (no account)",
        tags=["users"],
        secured=False,
        responses={200: ("id, name", None), 410: ("Expired, used or replaced", None)},
    )(whose)

    def set_password(token: str) -> Response:
        body = json_body(password_schema)
        _users().set_password(_token(token), str(body["password"]))
        return Response(status=204)

    set_password.__name__ = "password_link_use"
    doc.route(
        bp,
        "/password_links/<token>",
        "POST",
        "Set the password a link is for; the link is used up (no account)",
        tags=["users"],
        body=password_schema,
        secured=False,
        responses={204: ("Set", None), 410: ("Expired, used or replaced", None), 422: ("Too short", None)},
    )(set_password)
