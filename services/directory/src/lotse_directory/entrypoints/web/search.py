"""The search API: offers by words, place, language, legal domain, topic, target group, opening hours."""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from lotse_contracts import LegalDomain, Role
from lotse_kit.auth import current_claims, optional_claims, require_roles
from lotse_kit.metrics import counter, histogram
from lotse_kit.openapi import ApiDoc, Param, query_args
from lotse_kit.problems import bad_request

from lotse_directory.bootstrap import container_of
from lotse_directory.domain.search.query import FACETS, MAX_WINDOW, Near, SearchQuery
from lotse_directory.entrypoints.web.entries import ID_PATTERN
from lotse_directory.use_cases.search import Place, Search


def _search() -> Search:
    return container_of(current_app).search_use_case


def _list(schema: dict[str, object], description: str, name: str, parse: Callable[[str], Any] | None = None) -> Param:
    items = {"type": "array", "items": schema, "maxItems": 20}
    return Param(name, items, description + " (comma-separated: any of)", parse=parse)


SEARCH_PARAMS = (
    Param("q", {"type": "string", "maxLength": 200}, "words; German stemming, synonyms, one typo in long words"),
    _list(
        {"type": "string", "enum": [d.value for d in LegalDomain]},
        "legal domains (common spellings too: AufenthG, SGB II)",
        "legal_domain",
        LegalDomain,
    ),
    _list({"type": "string", "maxLength": 100}, "topics (Themen)", "topic"),
    _list({"type": "string", "maxLength": 100}, "target groups (Zielgruppen)", "target_group"),
    _list({"type": "string", "pattern": "^[a-z]{2,3}$"}, "spoken languages, ISO 639", "language"),
    _list({"type": "string", "pattern": ID_PATTERN}, "organisations", "organization_id"),
    _list({"type": "string", "pattern": r"^\d{2,12}$"}, "regions: AGS/ARS prefixes", "region"),
    Param("open_now", {"type": "boolean"}, "only offers open now (NRW public holidays respected)"),
    Param("open_at", {"type": "string", "format": "date-time"}, "only offers open at this time"),
    Param("verified_within_days", {"type": "integer", "minimum": 1, "maximum": 3650}, "only offers verified since"),
    Param("near", {"type": "string", "minLength": 2, "maxLength": 200}, "PLZ, 'PLZ Ort', place or address"),
    Param("lat", {"type": "number", "minimum": -90, "maximum": 90}, "latitude (with lon) instead of near"),
    Param("lon", {"type": "number", "minimum": -180, "maximum": 180}, "longitude (with lat)"),
    Param("radius_km", {"type": "number", "exclusiveMinimum": 0, "maximum": 500}, "only within this distance"),
    Param("sort", {"type": "string", "enum": ["relevance", "distance"], "default": "relevance"}),
    Param("page", {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW, "default": 1}),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
)


def aware_datetime(args: dict[str, Any], name: str) -> datetime | None:
    """An ISO 8601 date-time query parameter that must carry its time zone offset."""
    if not args.get(name):
        return None
    try:
        value = datetime.fromisoformat(str(args[name]).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(name, "is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise bad_request(name, "needs a time zone offset (e.g. +01:00 or Z)")
    return value


def _place(args: dict[str, object]) -> Place | None:
    if "near" in args and ("lat" in args or "lon" in args):
        raise bad_request("near", "give either near or lat/lon, not both")
    if ("lat" in args) != ("lon" in args):
        raise bad_request("lon" if "lat" in args else "lat", "lat and lon go together")
    if "lat" in args:
        lat, lon = float(args["lat"]), float(args["lon"])  # type: ignore[arg-type]
        return Place(lat, lon, f"{lat:.5f}, {lon:.5f}", None)
    if "near" in args:
        geocoder = container_of(current_app).geocoder
        found = geocoder.geocode(str(args["near"]), exactly_one=True)
        if found is None:
            raise bad_request("near", "is no place we know (try a PLZ or 'PLZ Ort')")
        return Place(found.latitude, found.longitude, found.address, found.raw.get("ags"))
    return None


def register_search_routes(bp: Blueprint, doc: ApiDoc) -> None:
    def search() -> Response:
        """Offers for a client's need near where they live, in a language they speak. Without a token,
        only public entries and places are searched and shown."""
        args = query_args(SEARCH_PARAMS)
        claims = optional_claims()
        if args["page"] * args["per_page"] > MAX_WINDOW:
            raise bad_request("page", f"page × per_page may not exceed {MAX_WINDOW}; narrow the search")
        place = _place(args)
        if args.get("sort") == "distance" and place is None:
            raise bad_request("sort", "sorting by distance needs near or lat/lon")
        if "radius_km" in args and place is None:
            raise bad_request("radius_km", "needs near or lat/lon")
        open_at = aware_datetime(args, "open_at")
        if open_at is None and args.get("open_now"):
            open_at = datetime.now().astimezone()
        query = SearchQuery(
            text=args.get("q", ""),
            facets={facet: tuple(args[facet]) for facet in FACETS if args.get(facet)},
            organization_ids=tuple(args.get("organization_id", ())),
            region_keys=tuple(args.get("region", ())),
            open_at=open_at,
            verified_within_days=args.get("verified_within_days"),
            near=Near(place.latitude, place.longitude, args.get("radius_km")) if place else None,
            sort=args["sort"],
            page=args["page"],
            per_page=args["per_page"],
        )
        begun = time.perf_counter()
        found = _search().search(claims, query, place)
        histogram("lotse_search_duration_seconds", "Time a search took in the search backend").observe(
            time.perf_counter() - begun
        )
        if not found["total_items"]:
            counter("lotse_search_zero_results_total", "Searches that found nothing").inc()
        return jsonify(found)

    doc.route(bp, "/search", "GET", "Search offers", tags=["search"], params=SEARCH_PARAMS, secured=False)(search)

    coverage_params = (
        _list({"type": "string", "enum": [d.value for d in LegalDomain]}, "legal domains", "legal_domain", LegalDomain),
        _list({"type": "string", "pattern": r"^\d{2,12}$"}, "regions: AGS/ARS prefixes", "region"),
    )

    @require_roles(Role.COORDINATOR, Role.ADMIN, Role.MAINTAINER)
    def coverage() -> Response:
        args = query_args(coverage_params)
        return jsonify(_search().coverage(tuple(args.get("legal_domain", ())), tuple(args.get("region", ()))))

    doc.route(
        bp,
        "/search/coverage",
        "GET",
        "Offers per Gemeinde, and those not confirmed within the period (no personal data)",
        tags=["search"],
        params=coverage_params,
    )(coverage)

    miss_params = (Param("since", {"type": "string", "format": "date"}, "only from this day on"),)

    @require_roles(Role.COORDINATOR, Role.ADMIN)
    def misses() -> Response:
        """Searches that found nothing (anonymous: words, filters, Gemeinde, hour), most frequent first."""
        args = query_args(miss_params)
        since = None
        if args.get("since"):
            try:
                since = datetime.fromisoformat(str(args["since"])).astimezone()
            except ValueError:
                raise bad_request("since", "is not a date (YYYY-MM-DD)") from None
        return jsonify(_search().misses(current_claims(), since))

    doc.route(bp, "/search/misses", "GET", "Searches that found nothing", tags=["search"], params=miss_params)(misses)
