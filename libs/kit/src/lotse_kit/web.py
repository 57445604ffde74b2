"""A Lotse service's Flask app: what every service's API shares, around the routes that are its own."""

import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from structlog import get_logger
from structlog.contextvars import bind_contextvars, clear_contextvars

from lotse_kit.auth import install_auth
from lotse_kit.logs import REQUEST_ID_HEADER, current_request_id, request_id_from
from lotse_kit.metrics import Collector, counter, exposition, histogram
from lotse_kit.openapi import ApiDoc, register_health
from lotse_kit.probes import Check, ready_answer
from lotse_kit.problems import install_problem_handlers
from lotse_kit.tokens import TokenVerifier

access = get_logger("lotse.access")
POLLED = ("/health", "/ready", "/metrics", "/events")
"""Routes asked over and over by probes, Prometheus and the services' change-feed readers."""


class IsoJsonProvider(DefaultJSONProvider):
    """Times as ISO 8601 (``2026-12-03T08:15:00+00:00``), as everywhere else in Lotse's APIs; Flask's own
    answer is RFC 1123 (``Thu, 03 Dec 2026 08:15:00 GMT``)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def service_app(
    import_name: str,
    extension: str,
    container: Any,
    verifier: TokenVerifier,
    max_body_bytes: int,
    doc: ApiDoc,
    blueprints: Sequence[Blueprint],
    *,
    service: str,
    checks: Sequence[Check] = (),
    collectors: Sequence[Collector] = (),
) -> Flask:
    """The app serving ``blueprints`` (their routes registered in ``doc``), ``GET /health`` (liveness),
    ``GET /ready`` (``checks``) and ``GET /metrics`` (requests counted by route and status, and the
    ``collectors``' figures): errors as problem+json, bearer tokens checked by ``verifier``, UTF-8 JSON, bodies
    up to ``max_body_bytes``, the service's ``container`` under ``app.extensions[extension]``, and the OpenAPI
    document with its docs."""
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json = IsoJsonProvider(app)
    app.json.ensure_ascii = False
    app.extensions[extension] = container
    install_problem_handlers(app)
    install_auth(app, verifier)
    root = Blueprint("root", import_name)
    register_health(root, doc)
    _register_ready(root, doc, checks)
    metrics = install_metrics(app, service, collectors)
    for blueprint in (*blueprints, root, metrics):
        app.register_blueprint(blueprint)
    doc.install(app)
    return app


def _register_ready(bp: Blueprint, doc: ApiDoc, checks: Sequence[Check]) -> None:
    """``GET /ready``: readiness, unauthenticated."""

    def ready() -> Response:
        status, body, content_type = ready_answer(checks)
        response = jsonify(body)
        response.status_code = status
        response.content_type = content_type
        if status == 503:
            response.headers["Retry-After"] = "5"
        return response

    schema = doc.add_schema(
        "ready",
        {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"const": "ready"},
                "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    )
    doc.route(
        bp,
        "/ready",
        "GET",
        "Readiness: database, broker and search engine reachable",
        tags=["meta"],
        secured=False,
        responses={200: ("Ready", schema), 503: ("Not ready: the checks that failed", None)},
    )(ready)


def install_metrics(app: Flask, service: str, collectors: Sequence[Collector] = ()) -> Blueprint:
    """Count every request of ``app`` by method, route (the rule, not the path: ids stay out) and status, with
    its latency; and the blueprint serving ``GET /metrics`` (not in the API document: it is for Prometheus)."""
    requests = counter("lotse_http_requests_total", "HTTP requests answered", ("service", "method", "route", "status"))
    latency = histogram(
        "lotse_http_request_duration_seconds", "Time to answer an HTTP request", ("service", "method", "route")
    )

    @app.before_request
    def started() -> None:
        g.lotse_started = time.perf_counter()
        clear_contextvars()  # a server thread keeps its context from one request to the next
        bind_contextvars(request_id=request_id_from(request.headers.get(REQUEST_ID_HEADER)))

    @app.after_request
    def answered(response: Response) -> Response:
        begun = g.get("lotse_started")
        if begun is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            seconds = time.perf_counter() - begun
            requests.labels(service, request.method, route, str(response.status_code)).inc()
            latency.labels(service, request.method, route).observe(seconds)
            # the route's rule, not the path: no id a client could be found by, no query (search words); what
            # machines poll every second or so (probes, metrics, change feeds) only at DEBUG unless it failed
            polled = route.endswith(POLLED) and response.status_code < 400
            (access.debug if polled else access.info)(
                "request", method=request.method, route=route, status=response.status_code, ms=round(seconds * 1000, 1)
            )
            response.headers[REQUEST_ID_HEADER] = current_request_id() or ""
        return response

    @app.teardown_request
    def finished(_error: BaseException | None) -> None:
        clear_contextvars()

    bp = Blueprint("lotse_metrics", __name__)

    @bp.get("/metrics")
    def metrics() -> Response:
        body, content_type = exposition(collectors)
        return Response(body, content_type=content_type)

    return bp
