"""Who is signed in: the session (a signed, HttpOnly cookie) holds the user's token and who they are; it ends
after ``idle_minutes`` without a request, at logout, or when a service no longer accepts the token."""

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import quote

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from lotse_web.adapters.api import Api, SignedIn
from lotse_web.settings import Settings

EXTENSION = "lotse.web"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""An entry's id as the services make them; anything else in an address is "Nicht gefunden" at once."""
F = TypeVar("F", bound=Callable[..., Any])

ROLE_LABELS = {
    "case_manager": "Case Management",
    "agency": "Aufnehmende Stelle",
    "maintainer": "Verzeichnispflege",
    "coordinator": "Koordination",
    "admin": "Administration",
}


def api() -> Api:
    found: Api = current_app.extensions[EXTENSION]["api"]
    return found


def settings() -> Settings:
    found: Settings = current_app.extensions[EXTENSION]["settings"]
    return found


def sign_in(user: SignedIn) -> None:
    session.clear()  # a new session for a new login (no fixation)
    session.permanent = True
    session.update(
        token=user.token,
        user_id=user.user_id,
        name=user.name,
        role=user.role,
        org=user.organization_id,
        regions=list(user.regions),
        seen=time.time(),
    )


def sign_out() -> None:
    session.clear()


def current_user() -> dict[str, Any] | None:
    """The signed-in user, or None; a session idle for longer than allowed ends here."""
    if "token" not in session:
        return None
    if time.time() - float(session.get("seen", 0)) > settings().idle_minutes * 60:
        session.clear()
        flash("Ihre Sitzung ist abgelaufen, weil Sie eine Weile nichts getan haben. Bitte melden Sie sich neu an.")
        return None
    session["seen"] = time.time()
    return {
        "id": session["user_id"],
        "name": session["name"],
        "role": session["role"],
        "role_label": ROLE_LABELS.get(session["role"], session["role"]),
        "organization_id": session.get("org"),
        "regions": list(session.get("regions") or []),
    }


def external_url(endpoint: str, **values: Any) -> str:
    """A full address of a page, as users reach Lotse (``LOTSE_WEB_PUBLIC_URL``; else this request's)."""
    base = settings().public_url
    return f"{base}{url_for(endpoint, **values)}" if base else url_for(endpoint, _external=True, **values)


def mail_to(address: str | None, subject: str, text: str) -> str:
    """A ``mailto:`` link that opens the user's e-mail program with this message (the user sends it)."""
    return f"mailto:{quote(address or '')}?subject={quote(subject)}&body={quote(text)}"


def token() -> str:
    return str(session["token"])


def login_required(view: F) -> F:
    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("account.login", weiter=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, checked)


def only_for(bp: Blueprint, role: str) -> None:
    """A blueprint's pages exist only for signed-in users of ``role``: others get "Nicht gefunden" (the
    signed-out go on to ``login_required``'s login)."""

    @bp.before_request
    def _only_for_role() -> Any:
        user = current_user()
        return not_found() if user is not None and user["role"] != role else None


def not_found() -> Any:
    """The German "Nicht gefunden" page: someone else's entry and one that does not exist look alike."""
    return render_template("not_found.html", title="Nicht gefunden", user=current_user()), 404


def safe_next(target: str | None, otherwise: str | None = None) -> str:
    """Where to go next (after login, after a change): only a path of this site (no open redirect); else
    ``otherwise`` (the start page by default)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return otherwise or url_for("start.home")


def partial() -> bool:
    """htmx asks for a part of the page (a filter changed): answer with that part only. Without JavaScript,
    and when the browser restores history, the whole page."""
    return request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in request.headers
