"""Lotse web: the German browser application for case managers and receiving agencies (issue 24; maintainers,
coordinators and admins follow). Server-rendered pages (Jinja2) in the KERN UX design system; every journey
works without JavaScript. It holds no domain data: it calls the directory, routing and notify over their HTTP
APIs with the signed-in user's token."""

from datetime import timedelta

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect
from lotse_kit.web import install_metrics

from lotse_web.adapters.api import Api
from lotse_web.entrypoints.web import account, referrals, responsible, search, sending, settings_pages, start
from lotse_web.entrypoints.web.session import EXTENSION
from lotse_web.settings import Settings

KERN_VERSION = "2.7.2"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",  # no inline script
        "style-src 'self'",
        "img-src 'self' data:",  # KERN's icons are data: SVGs in its CSS
        "font-src 'self'",
        "form-action 'self'",
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
    for module in (start, account, search, responsible, referrals, sending, settings_pages):
        module.register(app)
    app.register_blueprint(probes)

    @app.after_request
    def guarded(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # a search's words stay on this site
        response.headers["X-Frame-Options"] = "DENY"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"  # pages may hold a client's data
        return response

    return app
