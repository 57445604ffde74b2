"""A Lotse service's Flask app: what every service's API shares, around the routes that are its own."""

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask

from lotse_kit.auth import install_auth
from lotse_kit.openapi import ApiDoc, register_health
from lotse_kit.problems import install_problem_handlers
from lotse_kit.tokens import TokenVerifier


def service_app(
    import_name: str,
    extension: str,
    container: Any,
    verifier: TokenVerifier,
    max_body_bytes: int,
    doc: ApiDoc,
    blueprints: Sequence[Blueprint],
) -> Flask:
    """The app serving ``blueprints`` (their routes registered in ``doc``) and ``GET /health``: errors as
    problem+json, bearer tokens checked by ``verifier``, UTF-8 JSON, bodies up to ``max_body_bytes``, the
    service's ``container`` under ``app.extensions[extension]``, and the OpenAPI document with its docs."""
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[extension] = container
    install_problem_handlers(app)
    install_auth(app, verifier)
    root = Blueprint("root", import_name)
    register_health(root, doc)
    for blueprint in (*blueprints, root):
        app.register_blueprint(blueprint)
    doc.install(app)
    return app
