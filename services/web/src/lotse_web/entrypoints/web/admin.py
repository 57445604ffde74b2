"""Verwaltung: the administrators' pages. Notifications that did not arrive (webhook endpoints paused because
they gave no answer, deliveries notify gave up on, each to be tried again from the start), a referral's audit
log (who read, changed or was refused it: for data protection checks and a person's request to know who
received their data), and how users log in (the OIDC provider in scale mode)."""

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.referrals import HISTORY
from lotse_web.entrypoints.web.session import (
    ROLE_LABELS,
    UUID,
    api,
    current_user,
    login_required,
    not_found,
    settings,
    token,
)

bp = Blueprint("admin", __name__)
EVENTS = {
    "referral.requested": "neue Vermittlung",
    "referral.acknowledged": "zur Kenntnis genommen",
    "referral.accepted": "angenommen",
    "referral.declined": "abgelehnt",
    "referral.forwarded": "weitergeleitet",
    "referral.on_hold": "zurückgestellt",
    "referral.in_progress": "in Bearbeitung",
    "referral.resumed": "fortgesetzt",
    "referral.completed": "abgeschlossen",
    "referral.failed": "ohne Erfolg beendet",
    "referral.cancelled": "zurückgezogen",
    "referral.entered_in_error": "als irrtümlich markiert",
    "referral.reminder_due": "Erinnerung: Kenntnisnahme fällig",
}
KINDS = {"webhook": "Webhook", "email": "E-Mail"}


def administrator() -> dict[str, Any] | None:
    user = current_user()
    return user if user and user["role"] == "admin" else None


def organisation_names(ids: set[str]) -> dict[str, str]:
    """The names of these organisations in the directory (the id where one is gone)."""
    names = {}
    for ident in ids:
        try:
            names[ident] = str(api().entry(token(), "organizations", ident)[0].get("name") or ident)
        except ApiError:  # deleted meanwhile: its id is all there is
            names[ident] = ident
    return names


AUDITED = {
    **HISTORY,
    "read": "geöffnet",
    "list": "in einer Liste gesehen",
    "revise": "Entwurf geändert",
    "record_consent": "Einwilligung erfasst",
    "withdraw_consent": "Widerruf der Einwilligung erfasst",
    "erase": "Daten der Person gelöscht (Aufbewahrungsfrist)",
    "erase_on_request": "Daten der Person auf ihr Verlangen gelöscht",
    "subject_access": "in einer Auskunft an die Person gefunden",
    "audit_read": "Protokoll gelesen",
}


@bp.get("/verwaltung")
@login_required
def overview() -> Any:
    """The administrators' start: the pages, a referral's log by its id, how users log in."""
    user = administrator()
    if user is None:
        return not_found()
    ident = request.args.get("vermittlung", "").strip().lower()
    if ident:
        if UUID.fullmatch(ident):
            return redirect(url_for(".audit", ident=ident))
        flash("Das ist keine Kennung einer Vermittlung (wie 3f2c…-…, aus der Adresse der Vermittlung).")
    config = settings()
    login = {
        "mode": "Dienstkonto (OIDC)" if config.oidc_issuer else "Passwort (im Verzeichnis)",
        "issuer": config.oidc_issuer,
        "client_id": config.oidc_client_id,
        "scope": config.oidc_scope,
    }
    me = api().who_is(token())
    return render_template(
        "admin.html", title="Verwaltung", user=user, login=login, me=me, roles=ROLE_LABELS, given=request.args
    )


@bp.get("/verwaltung/vermittlungen/<ident>/protokoll")
@login_required
def audit(ident: str) -> Any:
    user = administrator()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    try:
        rows = api().audit_log(token(), ident)
    except ApiError as error:
        if error.status == 404:
            return not_found()
        raise
    names = organisation_names({r["organization_id"] for r in rows if r.get("organization_id")})
    return render_template(
        "admin_audit.html",
        title="Protokoll einer Vermittlung",
        user=user,
        ident=ident,
        rows=rows,
        names=names,
        roles=ROLE_LABELS,
        actions=AUDITED,
    )


@bp.get("/verwaltung/zustellungen")
@login_required
def deliveries() -> Any:
    user = administrator()
    if user is None:
        return not_found()
    page = request.args.get("seite", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    dead = api().dead_deliveries(token(), page_number)
    paused = api().paused_endpoints(token())
    names = organisation_names({d["organization_id"] for d in dead["contents"]})
    return render_template(
        "admin_deliveries.html",
        title="Zustellungen",
        user=user,
        dead=dead,
        paused=paused,
        names=names,
        events=EVENTS,
        kinds=KINDS,
    )


@bp.post("/verwaltung/zustellungen/<ident>/erneut")
@login_required
def redrive(ident: str) -> Any:
    if administrator() is None or not UUID.fullmatch(ident):
        return not_found()
    try:
        api().redrive(token(), ident)
    except ApiError as error:
        if error.status != 409:
            raise
        flash("Diese Zustellung ist nicht mehr aufgegeben: Sie wurde schon erneut versucht.")
        return redirect(url_for(".deliveries"))
    flash("Die Zustellung wird erneut versucht. Sie verschwindet aus der Liste, sobald sie läuft.")
    return redirect(url_for(".deliveries"))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
