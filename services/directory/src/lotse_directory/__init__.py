"""Lotse directory service: offers, organisations and the authorities responsible where."""

from flask import Blueprint, Flask
from flask_cors import CORS
from lotse_kit.openapi import ApiDoc
from lotse_kit.web import service_app

from lotse_directory.bootstrap import EXTENSION, Container, build
from lotse_directory.entrypoints.web.channels import register_channel_routes
from lotse_directory.entrypoints.web.entries import (
    check_body_size,
    register_change_routes,
    register_entity_routes,
    register_exchange_routes,
)
from lotse_directory.entrypoints.web.hsds import HSDS_PREFIX, register_hsds_routes
from lotse_directory.entrypoints.web.meta import register_meta_routes
from lotse_directory.entrypoints.web.opening_hours import register_opening_hours_routes
from lotse_directory.entrypoints.web.provider_links import register_provider_link_routes
from lotse_directory.entrypoints.web.search import register_search_routes
from lotse_directory.entrypoints.web.users import register_user_routes
from lotse_directory.entrypoints.web.verification import register_verification_routes
from lotse_directory.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """The directory's WSGI app; connects to nothing until the first request."""
    settings = settings or Settings.from_env()
    container = container or build(settings)
    doc = ApiDoc(
        "Lotse Verzeichnis (directory)",
        "1.0.0",
        "Offers, organisations and responsible authorities of the Lotse suite, modelled on HSDS 3.0 "
        "with the Lotse profile (legal domains, jurisdictions, verification, visibility).",
    )
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    api.before_request(check_body_size(settings.max_body_bytes, settings.max_import_bytes))
    register_entity_routes(api, doc)
    register_change_routes(api, doc)
    register_exchange_routes(api, doc)
    register_meta_routes(api, doc)
    register_channel_routes(api, doc)
    register_verification_routes(api, doc)
    register_opening_hours_routes(api, doc)
    register_provider_link_routes(api, doc)
    register_search_routes(api, doc)
    register_user_routes(api, doc)
    hsds = Blueprint("hsds", __name__, url_prefix=HSDS_PREFIX)
    register_hsds_routes(hsds, doc)
    max_body = settings.max_import_bytes  # an import may be this large; check_body_size holds the rest lower
    app = service_app(
        __name__,
        EXTENSION,
        container,
        container.verifier,
        max_body,
        doc,
        [api, hsds],
        service="directory",
        checks=container.checks(),
        collectors=container.collectors(),
    )
    public = (f"{API_PREFIX}/legal_domains", f"{API_PREFIX}/search", f"{HSDS_PREFIX}/*")
    CORS(app, resources={path: {"origins": "*"} for path in public})
    return app
