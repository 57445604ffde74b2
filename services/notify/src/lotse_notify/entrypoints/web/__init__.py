"""Notify's WSGI app: the inbox API, dead deliveries, the change feed and the API's documentation."""

from flask import Blueprint, Flask
from lotse_kit.openapi import ApiDoc
from lotse_kit.web import service_app

from lotse_notify.bootstrap import EXTENSION, Container, build
from lotse_notify.entrypoints.web.routes import register_routes
from lotse_notify.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Notify's WSGI app; connects to nothing until the first request."""
    settings = settings or Settings.from_env()
    container = container or build(settings)
    doc = ApiDoc(
        "Lotse Notify",
        "1.0.0",
        "Each organisation's inbox of referral notifications; dead deliveries for operators; notify's events.",
    )
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    register_routes(api, doc)
    return service_app(
        __name__,
        EXTENSION,
        container,
        container.verifier,
        100_000,
        doc,
        [api],
        service="notify",
        checks=container.checks(),
        collectors=container.collectors(),
    )
