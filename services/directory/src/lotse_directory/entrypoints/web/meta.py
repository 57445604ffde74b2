"""Small read-only endpoints: health, legal domains, the gazetteer look-up, the change feed."""

from flask import Blueprint, Response, current_app, jsonify
from lotse_contracts import LegalDomain, Role
from lotse_kit.auth import require_roles
from lotse_kit.openapi import ApiDoc, Param, query_args

from lotse_directory.bootstrap import container_of


def register_meta_routes(bp: Blueprint, doc: ApiDoc) -> None:
    def legal_domains() -> Response:
        """The legal domains (Rechtskreise) the directory knows."""
        return jsonify([{"code": d.value, "title": d.title_de, "authority": d.authority_de} for d in LegalDomain])

    doc.route(bp, "/legal_domains", "GET", "Known legal domains", tags=["meta"], secured=False)(legal_domains)

    geocode_params = (
        Param(
            "q",
            {"type": "string", "minLength": 2, "maxLength": 200},
            "PLZ, 'PLZ Ort', Gemeinde name or AGS",
            required=True,
        ),
    )

    @require_roles()
    def geocode() -> Response:
        """Places for a PLZ, 'PLZ Ort', Gemeinde name or AGS, with Gemeinde and Kreis keys."""
        args = query_args(geocode_params)
        geocoder = container_of(current_app).geocoder
        found = geocoder.geocode(args["q"], exactly_one=False) or []
        return jsonify(
            [{"address": loc.address, "latitude": loc.latitude, "longitude": loc.longitude, **loc.raw} for loc in found]
        )

    doc.route(bp, "/geocode", "GET", "Look up a place in the gazetteer", tags=["meta"], params=geocode_params)(geocode)

    event_params = (
        Param("after", {"type": "integer", "minimum": 0, "default": 0}, "events after this sequence number"),
        Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500}, "at most this many"),
    )

    @require_roles(Role.SERVICE, Role.ADMIN)
    def events() -> Response:
        """The directory's change events in the order written, for services that cannot subscribe to the
        broker (embedded mode): ``events`` after ``after``, and ``last_seq``, the newest sequence number."""
        args = query_args(event_params)
        found, last = container_of(current_app).outbox.since(args["after"], args["limit"])
        return jsonify({"events": found, "last_seq": last})

    doc.route(bp, "/events", "GET", "Change feed (directory events)", tags=["meta"], params=event_params)(events)


def register_health(bp: Blueprint, doc: ApiDoc) -> None:
    def health() -> Response:
        return jsonify({"status": "ok"})

    doc.route(bp, "/health", "GET", "Liveness", tags=["meta"], secured=False)(health)
