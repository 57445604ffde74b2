"""The start page: what the signed-in user can do here."""

import json
from typing import Any

from flask import Blueprint, Flask, Response, render_template
from lotse_kit.probes import Check, ready_answer

from lotse_web.entrypoints.web.session import api, current_user, login_required, settings

bp = Blueprint("start", __name__)


@bp.get("/")
@login_required
def home() -> Any:
    return render_template("start.html", title="Startseite", user=current_user())


@bp.get("/leichte-sprache")
def easy_language() -> Any:
    """What Lotse is and how to find one's way, in Leichte Sprache (for everyone, signed in or not)."""
    return render_template("leichte_sprache.html", title="Leichte Sprache", user=current_user())


@bp.get("/health")
def health() -> Any:
    return {"status": "ok"}


@bp.get("/ready")
def ready() -> Any:
    """Ready while the services it shows answer (it has no database or broker of its own)."""
    status, body, content_type = ready_answer(
        [
            Check("directory", lambda: _answers(f"{settings().directory_url}/health")),
            Check("routing", lambda: _answers(f"{settings().routing_url}/health")),
        ]
    )
    return Response(json.dumps(body), status=status, content_type=content_type)


def _answers(url: str) -> None:
    answer = api().pool.request("GET", url, timeout=2, retries=False)
    if answer.status != 200:
        raise LookupError(f"{url} answered {answer.status}")


def register(app: Flask) -> None:
    app.register_blueprint(bp)
