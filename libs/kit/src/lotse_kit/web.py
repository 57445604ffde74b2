"""A Lotse service's Flask app: what every service's API shares, around the routes that are its own."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask
from flask.json.provider import DefaultJSONProvider

from lotse_kit.auth import install_auth
from lotse_kit.openapi import ApiDoc, register_health
from lotse_kit.problems import install_problem_handlers
from lotse_kit.tokens import TokenVerifier


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
) -> Flask:
    """The app serving ``blueprints`` (their routes registered in ``doc``) and ``GET /health``: errors as
    problem+json, bearer tokens checked by ``verifier``, UTF-8 JSON, bodies up to ``max_body_bytes``, the
    service's ``container`` under ``app.extensions[extension]``, and the OpenAPI document with its docs."""
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json = IsoJsonProvider(app)
    app.json.ensure_ascii = False
    app.extensions[extension] = container
    install_problem_handlers(app)
    install_auth(app, verifier)
    root = Blueprint("root", import_name)
    register_health(root, doc)
    for blueprint in (*blueprints, root):
        app.register_blueprint(blueprint)
    doc.install(app)
    return app
