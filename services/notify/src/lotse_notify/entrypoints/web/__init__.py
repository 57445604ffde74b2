"""Notify's WSGI app: the inbox API, dead deliveries, the change feed and the API's documentation."""

from flask import Blueprint, Flask
from lotse_kit.auth import install_auth
from lotse_kit.openapi import ApiDoc, register_health
from lotse_kit.problems import install_problem_handlers

from lotse_notify.bootstrap import EXTENSION, Container, build
from lotse_notify.entrypoints.web.routes import register_routes
from lotse_notify.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Notify's WSGI app; connects to nothing until the first request."""
    settings = settings or Settings.from_env()
    container = container or build(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = container
    install_problem_handlers(app)
    install_auth(app, container.verifier)
    doc = ApiDoc(
        "Lotse Notify",
        "1.0.0",
        "Each organisation's inbox of referral notifications; dead deliveries for operators; notify's events.",
    )
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    register_routes(api, doc)
    root = Blueprint("root", __name__)
    register_health(root, doc)
    app.register_blueprint(api)
    app.register_blueprint(root)
    doc.install(app)
    return app
