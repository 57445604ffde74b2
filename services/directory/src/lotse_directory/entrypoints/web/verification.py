"""Verification: confirm an entry as current; list the entries whose confirmation is due; confirm a proposed
jurisdiction (the second person)."""

from flask import Blueprint, Response, current_app, jsonify, request
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.openapi import ApiDoc, Param, query_args

from lotse_directory.bootstrap import container_of
from lotse_directory.domain.hsds import entities
from lotse_directory.domain.verification import VERIFIED_ENTITIES
from lotse_directory.entrypoints.web.entries import ID_PATTERN, MAINTAINERS, check_id, entry_response
from lotse_directory.use_cases.verification import Verification


def _verification() -> Verification:
    return container_of(current_app).verification


def register_verification_routes(bp: Blueprint, doc: ApiDoc) -> None:
    due_params = (Param("organization_id", {"type": "string", "pattern": ID_PATTERN}, "only this organisation"),)

    @require_roles(*MAINTAINERS)
    def due() -> Response:
        """Organisations, offers, locations and jurisdictions not confirmed within the set period
        (LOTSE_DIRECTORY_STALE_AFTER_DAYS), of the organisations the caller maintains."""
        args = query_args(due_params)
        rows = _verification().due(current_claims(), args.get("organization_id"))
        return jsonify({"stale_after_days": _verification().after_days, "total_items": len(rows), "contents": rows})

    doc.route(bp, "/verification/due", "GET", "Entries due for verification", tags=["verification"], params=due_params)(
        due
    )

    for entity in VERIFIED_ENTITIES:
        collection = entities()[entity].collection

        def confirm(ident: str, entity: str = entity) -> Response:
            check_id(ident)
            return entry_response(
                _verification().confirm(current_claims(), entity, ident, request.headers.get("If-Match"))
            )

        confirm.__name__ = f"{entity}_verify"
        doc.route(
            bp,
            f"/{collection}/<ident>/verify",
            "POST",
            f"Confirm a {entity} as current (sets its verification date and who; If-Match required)",
            tags=["verification"],
            params=(Param("If-Match", {"type": "string"}, "the ETag you read", True, "header"),),
            responses={200: ("Confirmed", None), 412: ("Changed meanwhile", None)},
        )(require_roles(*MAINTAINERS)(confirm))

    @require_roles(*MAINTAINERS)
    def jurisdiction_confirm(ident: str) -> Response:
        """A second person who keeps the region confirms a proposed jurisdiction; routing uses it from then on."""
        check_id(ident)
        entries = container_of(current_app).entries
        return entry_response(
            entries.update(current_claims(), "jurisdiction", ident, {}, request.headers.get("If-Match"), confirm=True)
        )

    doc.route(
        bp,
        "/jurisdictions/<ident>/confirm",
        "POST",
        "Confirm a proposed jurisdiction (a second person who keeps the region; If-Match required)",
        tags=["verification"],
        params=(Param("If-Match", {"type": "string"}, "the ETag you read", True, "header"),),
        responses={
            200: ("Confirmed", None),
            403: ("Not a second person who keeps the region", None),
            409: ("Not proposed", None),
            412: ("Changed meanwhile", None),
        },
    )(jurisdiction_confirm)
