"""The start page: what the signed-in user can do here."""

from typing import Any

from flask import Blueprint, Flask, render_template

from lotse_web.entrypoints.web.session import current_user, login_required

bp = Blueprint("start", __name__)


@bp.get("/")
@login_required
def home() -> Any:
    return render_template("start.html", title="Startseite", user=current_user())


@bp.get("/health")
def health() -> Any:
    return {"status": "ok"}


def register(app: Flask) -> None:
    app.register_blueprint(bp)
