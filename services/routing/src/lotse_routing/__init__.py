"""Lotse routing service: who is responsible, referrals with consent, their lifecycle and events."""

from flask import Blueprint, Flask
from lotse_kit.openapi import ApiDoc
from lotse_kit.web import service_app

from lotse_routing.bootstrap import EXTENSION, Container, build
from lotse_routing.entrypoints.web.routes import register_routes
from lotse_routing.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Routing's WSGI app; connects to nothing until the first request."""
    settings = settings or Settings.from_env()
    container = container or build(settings)
    doc = ApiDoc(
        "Lotse Routing",
        "1.0.0",
        "Who is responsible for a client's matter, and referrals to them with consent, a full lifecycle, "
        "an audit log and events.",
    )
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    register_routes(api, doc)
    return service_app(
        __name__,
        EXTENSION,
        container,
        container.verifier,
        settings.max_body_bytes,
        doc,
        [api],
        service="routing",
        checks=container.checks(),
        collectors=container.collectors(),
    )
