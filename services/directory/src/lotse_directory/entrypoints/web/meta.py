"""Small endpoints: legal domains, the gazetteer look-up, the change feed, embedded mode's login and who the
caller is."""

from flask import Blueprint, Response, current_app, jsonify
from lotse_contracts import LegalDomain, Role
from lotse_kit.auth import current_claims, require_roles
from lotse_kit.feed_api import register_change_feed
from lotse_kit.openapi import ApiDoc, Param, json_body, query_args

from lotse_directory.bootstrap import container_of

LOGIN = {
    "type": "object",
    "required": ["login", "password"],
    "additionalProperties": False,
    "properties": {
        "login": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 1000},
    },
}


def register_meta_routes(bp: Blueprint, doc: ApiDoc) -> None:
    login_schema = doc.add_schema("login", LOGIN)

    def login() -> Response:
        """Embedded mode: a user's bearer token for login and password (the web application's login). A wrong
        login and a wrong password get the same 401; in scale mode (OIDC) 409."""
        body = json_body(login_schema)
        return jsonify(container_of(current_app).accounts.log_in(body["login"], body["password"]))

    doc.route(bp, "/login", "POST", "Log in (embedded mode)", tags=["meta"], body=login_schema, secured=False)(login)

    @require_roles()
    def me() -> Response:
        """Who the bearer token says the caller is, as every service reads it (the web application asks this
        after an OIDC login: the provider's claims are mapped once, here, by the services' settings)."""
        claims = current_claims()
        return jsonify(
            {
                "id": claims.subject,
                "name": claims.name,
                "role": claims.role.value,
                "organization_id": claims.organization_id,
                "regions": list(claims.regions),
            }
        )

    doc.route(bp, "/me", "GET", "Who the token names", tags=["meta"])(me)

    def legal_domains() -> Response:
        """The legal domains (Rechtskreise) the directory knows."""
        return jsonify([{"code": d.value, "title": d.title_de, "authority": d.authority_de} for d in LegalDomain])

    doc.route(bp, "/legal_domains", "GET", "Known legal domains", tags=["meta"], secured=False)(legal_domains)

    @require_roles()
    def authorities() -> Response:
        """The organisations that may be declared responsible, with the legal domains they are authorities of."""
        return jsonify({"contents": container_of(current_app).entries.authorities()})

    doc.route(bp, "/authorities", "GET", "The authorities jurisdictions may name", tags=["meta"])(authorities)

    @require_roles(Role.MAINTAINER, Role.ADMIN)
    def maintained() -> Response:
        """The organisations the caller maintains, by name (an admin: the first 500 of all)."""
        return jsonify({"contents": container_of(current_app).entries.maintained(current_claims())})

    doc.route(bp, "/maintained_organizations", "GET", "The organisations the caller maintains", tags=["meta"])(
        maintained
    )

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
    register_change_feed(bp, doc, lambda: container_of(current_app).outbox, "directory")
