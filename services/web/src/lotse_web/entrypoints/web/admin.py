"""Verwaltung: the administrators' pages. Notifications that did not arrive: webhook endpoints that are paused
because they gave no answer, and deliveries notify gave up on, each with a button to try it again from the
start (after the receiving organisation fixed its endpoint)."""

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, token

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


def _admin() -> dict[str, Any] | None:
    user = current_user()
    return user if user and user["role"] == "admin" else None


def _organisation_names(ids: set[str]) -> dict[str, str]:
    names = {}
    for ident in ids:
        try:
            names[ident] = str(api().entry(token(), "organizations", ident)[0].get("name") or ident)
        except ApiError:  # deleted meanwhile: its id is all there is
            names[ident] = ident
    return names


@bp.get("/verwaltung/zustellungen")
@login_required
def deliveries() -> Any:
    user = _admin()
    if user is None:
        return not_found()
    page = request.args.get("seite", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    dead = api().dead_deliveries(token(), page_number)
    paused = api().paused_endpoints(token())
    names = _organisation_names({d["organization_id"] for d in dead["contents"]})
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
    if _admin() is None or not UUID.fullmatch(ident):
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
