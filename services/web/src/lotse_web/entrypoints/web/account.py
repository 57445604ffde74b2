"""Anmelden and abmelden: embedded mode checks login and password at the directory; scale mode sends the user
to the organisation's OIDC provider (authorization code flow with PKCE, Authlib) and back."""

from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from requests import RequestException

from lotse_web.adapters.api import ApiError, TokenRejected
from lotse_web.entrypoints.web.session import (
    EXTENSION,
    api,
    current_user,
    external_url,
    safe_next,
    settings,
    sign_in,
    sign_out,
)

bp = Blueprint("account", __name__)
LOCKED = (
    "Zu viele falsche Passwörter nacheinander. Aus Sicherheitsgründen ist die Anmeldung mit diesem Benutzernamen "
    "für eine Viertelstunde gesperrt."
)
UNAVAILABLE = "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es gleich noch einmal."


def _provider() -> Any:
    """The OIDC client (scale mode), or None in embedded mode."""
    return current_app.extensions[EXTENSION].get("oidc")


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> Any:
    if _provider() is not None:
        if current_user() is not None:
            return redirect(safe_next(request.args.get("weiter")))
        return render_template("login_oidc.html", title="Anmelden", weiter=request.args.get("weiter", ""))
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
                    errors["login"] = UNAVAILABLE
            else:
                return redirect(safe_next(request.args.get("weiter")))
    elif current_user() is not None:
        return redirect(safe_next(request.args.get("weiter")))
    status = 400 if errors else 200
    return render_template("login.html", errors=errors, given=given, title="Anmelden"), status


@bp.get("/anmelden/dienstkonto")
def oidc_start() -> Any:
    """Scale mode: on to the provider's login, with state, nonce and a PKCE challenge kept in the session."""
    provider = _provider()
    if provider is None:
        return redirect(url_for(".login"))
    session["weiter"] = safe_next(request.args.get("weiter"))
    try:
        return provider.authorize_redirect(external_url("account.oidc_return"))
    except (RequestException, OAuthError, ValueError):  # no discovery document
        return _oidc_failed(UNAVAILABLE)


@bp.get("/anmelden/dienstkonto/zurueck")
def oidc_return() -> Any:
    """The provider sends the user back here with a code; it is exchanged (with the PKCE verifier) for the
    tokens, the ID token is checked (signature, issuer, audience, nonce), and the directory says who the access
    token names."""
    provider = _provider()
    if provider is None:
        return redirect(url_for(".login"))
    weiter = session.get("weiter")
    try:
        tokens = provider.authorize_access_token()
        user = api().who_is(tokens["access_token"])
    except OAuthError as error:
        if error.error == "access_denied":
            return _oidc_failed("Die Anmeldung wurde abgebrochen.")
        return _oidc_failed("Die Anmeldung ist nicht gelungen. Bitte melden Sie sich noch einmal an.")
    except (RequestException, ApiError, TokenRejected, KeyError):
        return _oidc_failed(UNAVAILABLE)
    sign_in(user)
    return redirect(safe_next(weiter))


def _oidc_failed(message: str) -> Any:
    return render_template("login_oidc.html", title="Anmelden", error=message, weiter=""), 400


@bp.post("/abmelden")
def logout() -> Any:
    sign_out()
    flash("Sie haben sich abgemeldet.")
    provider = _provider()
    if provider is not None:  # end the provider's session too, where it offers RP-initiated logout
        try:
            if provider.load_server_metadata().get("end_session_endpoint"):
                return provider.logout_redirect(
                    post_logout_redirect_uri=external_url("account.login"), client_id=settings().oidc_client_id
                )
        except (RequestException, OAuthError, ValueError):
            pass
    return redirect(url_for("account.login"))


def register(app: Flask) -> None:
    configured = app.extensions[EXTENSION]["settings"]
    if configured.oidc_issuer:
        oauth = OAuth(app)
        app.extensions[EXTENSION]["oidc"] = oauth.register(
            "provider",
            server_metadata_url=f"{configured.oidc_issuer}/.well-known/openid-configuration",
            client_id=configured.oidc_client_id,
            client_secret=configured.oidc_client_secret,
            client_kwargs={"scope": configured.oidc_scope, "code_challenge_method": "S256", "timeout": 10},
        )
    app.register_blueprint(bp)
