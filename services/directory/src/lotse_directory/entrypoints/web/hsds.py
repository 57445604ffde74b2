"""The HSDS 3.0 read API (Open Referral) under ``/hsds``: public, no token, CORS open, only public data.

Endpoints and parameters follow ``schema/openapi.json`` of HSDS 3.0; lists come in its page envelope,
or with ``format=ndjson`` as one entry per line, all pages."""

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, url_for
from lotse_kit.openapi import ApiDoc, Param, query_args
from lotse_kit.problems import bad_request

from lotse_directory.bootstrap import container_of
from lotse_directory.entrypoints.web.entries import check_id
from lotse_directory.entrypoints.web.search import aware_datetime
from lotse_directory.use_cases.open_data import Listing, OpenData

HSDS_PREFIX = "/hsds"
TAGS = ["HSDS 3.0 (Open Referral)"]


def _open_data() -> OpenData:
    return container_of(current_app).open_data


def _flag(name: str, description: str) -> Param:
    return Param(name, {"type": "boolean", "default": False}, description)


SEARCH = Param("search", {"type": "string", "minLength": 1, "maxLength": 200}, "full text (German analysis)")
PAGE = Param("page", {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1})
PER_PAGE = Param("per_page", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50})
FORMAT = Param("format", {"type": "string", "enum": ["json", "ndjson"], "default": "json"}, "ndjson: all, unpaged")
TERM = Param("taxonomy_term_id", {"type": "string", "maxLength": 64}, "offers with this taxonomy term")
TAXONOMY = Param("taxonomy_id", {"type": "string", "maxLength": 64}, "offers with any term of this taxonomy")
ORGANIZATION = Param("organization_id", {"type": "string", "maxLength": 64}, "offers of this organisation")
MODIFIED = Param("modified_after", {"type": "string", "format": "date-time"}, "changed on or after (ISO 8601)")
FULL = _flag("full", "fully nested entries")
FULL_SERVICE = _flag("full_service", "services in full")
PAGING = (SEARCH, PAGE, PER_PAGE, FORMAT)

SERVICE_PARAMS = (*PAGING, TERM, TAXONOMY, ORGANIZATION, MODIFIED, _flag("minimal", "only id and last_modified"), FULL)
ORGANIZATION_PARAMS = (*PAGING, FULL_SERVICE, FULL)
TERM_PARAMS = (
    *PAGING,
    TAXONOMY,
    _flag("top_only", "only terms without child terms"),
    Param("parent_id", {"type": "string", "maxLength": 64}, "terms with this parent"),
)
SAL_PARAMS = (
    *PAGING,
    TERM,
    TAXONOMY,
    ORGANIZATION,
    MODIFIED,
    FULL,
    Param("postcode", {"type": "string", "pattern": r"^\d{5}$"}, "German PLZ: places with it, or near it"),
    Param("proximity", {"type": "number", "exclusiveMinimum": 0, "maximum": 500_000}, "metres from the PLZ centre"),
)


def _listing(args: dict[str, Any]) -> Listing:
    if args.get("proximity") is not None and not args.get("postcode"):
        raise bad_request("proximity", "needs postcode")
    if args.get("postcode") and not container_of(current_app).gazetteer.postal_code_exists(args["postcode"]):
        raise bad_request("postcode", "is no German postcode we know")
    return Listing(
        page=args["page"],
        per_page=args["per_page"],
        search=args.get("search"),
        organization_id=args.get("organization_id"),
        taxonomy_term_id=args.get("taxonomy_term_id"),
        taxonomy_id=args.get("taxonomy_id"),
        modified_after=aware_datetime(args, "modified_after"),
        postcode=args.get("postcode"),
        proximity_m=args.get("proximity"),
        parent_id=args.get("parent_id"),
        top_only=bool(args.get("top_only")),
    )


def _ndjson(items: Iterator[dict[str, Any]]) -> Response:
    lines = (json.dumps(item, ensure_ascii=False, default=str) + "\n" for item in items)
    return Response(lines, mimetype="application/x-ndjson")


def register_hsds_routes(bp: Blueprint, doc: ApiDoc) -> None:
    def info() -> Response:
        """The HSDS version of this API, our profile, and this OpenAPI document."""
        query_args(())
        return jsonify(
            OpenData.info(
                openapi_url=url_for("lotse_docs.openapi_json", _external=True),
                profile_url=url_for("hsds.profile", _external=True),
            )
        )

    doc.route(bp, "/", "GET", "About this HSDS API", tags=TAGS, secured=False)(info)

    def profile() -> Response:
        """The Lotse profile of HSDS 3.0: legal domains, jurisdictions, verification, visibility."""
        query_args(())
        return jsonify(OpenData.profile())

    doc.route(bp, "/profile", "GET", "The Lotse HSDS profile", tags=TAGS, secured=False)(profile)

    def listing(path: str, kind: str, params: tuple[Param, ...], options: tuple[str, ...], summary: str) -> None:
        def view() -> Response:
            args = query_args(params)
            chosen = {name: bool(args.get(name)) for name in options}
            found = _listing(args)
            if args["format"] == "ndjson":
                return _ndjson(_open_data().ndjson(kind, found, **chosen))
            return jsonify(getattr(_open_data(), kind)(found, **chosen))

        view.__name__ = f"hsds_{kind}"
        doc.route(bp, path, "GET", summary, tags=TAGS, params=params, secured=False)(view)

    def item(path: str, kind: str, params: tuple[Param, ...], summary: str) -> None:
        def view(ident: str) -> Response:
            check_id(ident)
            args = query_args(params)
            return jsonify(getattr(_open_data(), kind)(ident, **{p.name: bool(args.get(p.name)) for p in params}))

        view.__name__ = f"hsds_{kind}"
        doc.route(bp, path, "GET", summary, tags=TAGS, params=params, secured=False)(view)

    listing("/services", "services", SERVICE_PARAMS, ("full", "minimal"), "Offers (services)")
    item("/services/<ident>", "service", (), "One offer, fully nested")
    listing("/organizations", "organizations", ORGANIZATION_PARAMS, ("full", "full_service"), "Organisations")
    item("/organizations/<ident>", "organization", (FULL_SERVICE,), "One organisation, fully nested")
    listing("/taxonomies", "taxonomies", PAGING, (), "Taxonomies")
    item("/taxonomies/<ident>", "taxonomy", (), "One taxonomy")
    listing("/taxonomy_terms", "taxonomy_terms", TERM_PARAMS, (), "Taxonomy terms")
    item("/taxonomy_terms/<ident>", "taxonomy_term", (), "One taxonomy term")
    listing("/service_at_locations", "service_at_locations", SAL_PARAMS, ("full",), "Offers at places")
    item("/service_at_locations/<ident>", "service_at_location", (), "One offer at a place, fully nested")
