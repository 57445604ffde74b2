"""Anmelden and abmelden (embedded mode: login and password, checked by the directory)."""

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.session import api, current_user, safe_next, sign_in, sign_out

bp = Blueprint("account", __name__)
LOCKED = (
    "Zu viele falsche Passwörter nacheinander. Aus Sicherheitsgründen ist die Anmeldung mit diesem Benutzernamen "
    "für eine Viertelstunde gesperrt."
)


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> Any:
    errors: dict[str, str] = {}
    given = {"login": request.form.get("login", "").strip()}
    if request.method == "POST":
        password = request.form.get("password", "")
        if not given["login"]:
            errors["login"] = "Geben Sie Ihren Benutzernamen ein."
        if not password:
            errors["password"] = "Geben Sie Ihr Passwort ein."  # noqa: S105 (a message, not a password)
        if not errors:
            try:
                sign_in(api().log_in(given["login"], password))
            except ApiError as error:
                if error.status == 429:
                    errors["password"] = LOCKED
                elif error.status in (401, 422):
                    errors["password"] = "Benutzername oder Passwort stimmen nicht. Bitte prüfen Sie beides."  # noqa: S105
                else:
                    errors["login"] = (
                        "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es gleich noch einmal."
                    )
            else:
                return redirect(safe_next(request.args.get("weiter")))
    elif current_user() is not None:
        return redirect(safe_next(request.args.get("weiter")))
    status = 400 if errors else 200
    return render_template("login.html", errors=errors, given=given, title="Anmelden"), status


@bp.post("/abmelden")
def logout() -> Any:
    sign_out()
    flash("Sie haben sich abgemeldet.")
    return redirect(url_for("account.login"))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
