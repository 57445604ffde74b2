"""Lotse web: the German browser application for case managers and receiving agencies (issue 24; maintainers,
coordinators and admins follow). Server-rendered pages (Jinja2) in the KERN UX design system; every journey
works without JavaScript. It holds no domain data: it calls the directory, routing and notify over their HTTP
APIs with the signed-in user's token."""

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFProtect
from lotse_kit.logs import current_request_id
from lotse_kit.web import install_metrics
from werkzeug.exceptions import InternalServerError

from lotse_web.adapters.api import Api, ApiError, TokenRejected
from lotse_web.entrypoints.web import (
    accessibility,
    account,
    admin,
    all_fields,
    exchange,
    figures,
    jurisdictions,
    maintain,
    merkliste,
    organisations,
    provider,
    referrals,
    responsible,
    search,
    sending,
    settings_pages,
    start,
    subject_access,
    topics,
    users,
)
from lotse_web.entrypoints.web.session import EXTENSION, current_user, not_found, sign_out
from lotse_web.settings import Settings

KERN_VERSION = "2.7.2"


def content_security_policy(settings: Settings) -> str:
    """No inline script, nothing from elsewhere; forms post only here, and in scale mode also lead on to the
    OIDC provider (logout ends its session by a redirect, which ``form-action`` governs)."""
    provider = urlsplit(settings.oidc_issuer) if settings.oidc_issuer else None
    form_action = f"'self' {provider.scheme}://{provider.netloc}" if provider else "'self'"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",  # KERN's icons are data: SVGs in its CSS
            "font-src 'self'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


def create_app(settings: Settings | None = None, api: Api | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="lotse_sitzung",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.idle_minutes),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1_000_000,
    )
    app.extensions[EXTENSION] = {"settings": settings, "api": api or Api(settings)}
    csrf = CSRFProtect(app)
    probes = install_metrics(app, "web")  # /metrics, and requests counted by route and status
    csrf.exempt(probes)
    app.jinja_env.globals["kern_version"] = KERN_VERSION
    for module in (
        start,
        accessibility,
        account,
        search,
        responsible,
        referrals,
        sending,
        merkliste,
        settings_pages,
        maintain,
        topics,
        all_fields,
        organisations,
        provider,
        jurisdictions,
        exchange,
        figures,
        admin,
        subject_access,
        users,
    ):
        module.register(app)
    app.register_blueprint(probes)

    policy = content_security_policy(settings)

    @app.errorhandler(TokenRejected)
    def token_rejected(_: TokenRejected) -> Any:
        """A service no longer accepts the session's token (it expired at the provider): log in again and come
        back to the page."""
        sign_out()
        flash("Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich neu an.")
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("account.login", weiter=back))

    @app.errorhandler(ApiError)
    def service_failed(error: ApiError) -> Any:
        """A service's answer no view expected: a German page, never a raw error."""
        if error.status in (403, 404):
            return not_found()
        unavailable = error.status in (0, 502, 503, 504)
        return _error_page(unavailable), 503 if unavailable else 500

    @app.errorhandler(InternalServerError)
    def failed(_: InternalServerError) -> Any:
        return _error_page(False), 500

    @app.after_request
    def guarded(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # a search's words stay on this site
        response.headers["X-Frame-Options"] = "DENY"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages may hold a client's data
            response.vary.add("HX-Request")  # a part of the page or all of it
        return response

    return app


def _error_page(unavailable: bool) -> str:
    return render_template(
        "error.html",
        title="Das hat gerade nicht geklappt",
        unavailable=unavailable,
        user=current_user(),
        request_id=current_request_id() or "",
    )
