"""Confirmation links for offers' providers: made by the offer's maintainers; read and answered by whoever
holds one, without an account (the signed, expiring link is the credential); the answers listed for the
maintainers."""

import re

from flask import Blueprint, Response, current_app, jsonify
from lotse_contracts import Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, Param, json_body, query_args
from lotse_kit.problems import bad_request

from lotse_directory.bootstrap import container_of
from lotse_directory.entrypoints.web.entries import MAINTAINERS, check_id
from lotse_directory.use_cases.provider_links import ProviderLinks

TOKEN = re.compile(r"^[A-Za-z0-9_.-]{20,600}$")
ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "still_right": {"type": "boolean", "description": "true: the offer is right as it is"},
        "correction": {"type": "string", "minLength": 3, "maxLength": 2000, "description": "what is wrong"},
    },
}


def _links() -> ProviderLinks:
    return container_of(current_app).provider_links


def _token(token: str) -> str:
    if not TOKEN.match(token):
        raise bad_request("token", "is not a confirmation link's token")
    return token


def register_provider_link_routes(bp: Blueprint, doc: ApiDoc) -> None:
    answer_schema = doc.add_schema("provider_answer", ANSWER)

    @require_roles(*MAINTAINERS)
    def issue(ident: str) -> Response:
        check_id(ident)
        response = jsonify(_links().issue(current_claims(), ident))
        response.status_code = 201
        return response

    issue.__name__ = "provider_link_create"
    doc.route(
        bp,
        "/services/<ident>/confirmation_links",
        "POST",
        "A signed, expiring link the offer's provider confirms or corrects it with (maintainers)",
        tags=["verification"],
        responses={201: ("token, link_id, expires_at", None)},
    )(issue)

    def show(token: str) -> Response:
        return jsonify(_links().show(_token(token)))

    show.__name__ = "provider_link_get"
    doc.route(
        bp,
        "/provider_confirmations/<token>",
        "GET",
        "The offer a confirmation link names, as the public sees it, and the answer given (no account)",
        tags=["verification"],
        secured=False,
        responses={200: ("service, expires_at, answer", None), 410: ("The link has expired", None)},
    )(show)

    def answer(token: str) -> Response:
        body = json_body(answer_schema)
        still_right = bool(body.get("still_right"))
        correction = str(body.get("correction") or "").strip() or None
        if still_right == (correction is not None):
            raise bad_request("correction", "give either still_right: true or a correction")
        return jsonify(_links().answer(_token(token), still_right, correction))

    answer.__name__ = "provider_link_answer"
    doc.route(
        bp,
        "/provider_confirmations/<token>",
        "POST",
        "The provider's one answer: still right (the offer is confirmed) or what is wrong (no account)",
        tags=["verification"],
        body=answer_schema,
        secured=False,
        responses={200: ("The answer", None), 409: ("Answered already", None), 410: ("Expired", None)},
    )(answer)

    reply_params = (
        Param("service_id", {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}, "only this offer's"),
        Param("open", {"type": "boolean"}, "only corrections nobody has dealt with yet"),
    )

    @require_roles(Role.MAINTAINER, Role.ADMIN)
    def replies() -> Response:
        args = query_args(reply_params)
        found = _links().replies(current_claims(), args.get("service_id"), bool(args.get("open")))
        return jsonify({"contents": found})

    replies.__name__ = "provider_replies_list"
    doc.route(
        bp,
        "/provider_replies",
        "GET",
        "What providers answered about the offers the caller maintains, newest first",
        tags=["verification"],
        params=reply_params,
    )(replies)

    @require_roles(Role.MAINTAINER, Role.ADMIN)
    def close(link_id: str) -> Response:
        check_id(link_id)
        _links().close(current_claims(), link_id)
        return Response(status=204)

    close.__name__ = "provider_reply_done"
    doc.route(
        bp,
        "/provider_replies/<link_id>/done",
        "POST",
        "A maintainer has dealt with a provider's correction",
        tags=["verification"],
        responses={204: ("Done", None), 409: ("Done already", None)},
    )(close)
