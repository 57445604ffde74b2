"""Vermittlungen: the list (a case manager's sent referrals, an agency's incoming ones), a referral's page with
its data, reason, decision and timeline, and the steps the lifecycle allows the user's side, each a form.
``/referrals/<id>`` is the page notifications link to (``LOTSE_NOTIFY_REFERRAL_PAGE_URL``)."""

from contextlib import suppress
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from lotse_contracts import LegalDomain
from lotse_contracts.referrals import DeclineReason, ReferralStatus

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.local_time import BERLIN
from lotse_web.entrypoints.web.sending import ROLES, TOLD
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, partial, token

bp = Blueprint("referrals", __name__)

STATUS = {
    ReferralStatus.DRAFT: "Entwurf",
    ReferralStatus.REQUESTED: "neu",
    ReferralStatus.ACKNOWLEDGED: "zur Kenntnis genommen",
    ReferralStatus.ACCEPTED: "angenommen",
    ReferralStatus.IN_PROGRESS: "in Bearbeitung",
    ReferralStatus.ON_HOLD: "zurückgestellt",
    ReferralStatus.DECLINED: "abgelehnt",
    ReferralStatus.FORWARDED: "weitergeleitet",
    ReferralStatus.COMPLETED: "abgeschlossen",
    ReferralStatus.FAILED: "ohne Erfolg beendet",
    ReferralStatus.CANCELLED: "zurückgezogen",
    ReferralStatus.ENTERED_IN_ERROR: "irrtümlich angelegt",
}
ACTIONS = {
    "acknowledge": ("Zur Kenntnis nehmen", "Die Vermittlung ist zur Kenntnis genommen."),
    "accept": ("Annehmen", "Die Vermittlung ist angenommen."),
    "start": ("Bearbeitung beginnen", "Die Vermittlung ist in Bearbeitung."),
    "hold": ("Zurückstellen", "Die Vermittlung ist zurückgestellt."),
    "resume": ("Fortsetzen", "Die Vermittlung geht weiter."),
    "complete": ("Abschließen", "Die Vermittlung ist abgeschlossen."),
    "fail": ("Ohne Erfolg beenden", "Die Vermittlung ist ohne Erfolg beendet."),
    "decline": ("Ablehnen", "Die Vermittlung ist abgelehnt."),
    "submit": ("Abschicken", "Die Vermittlung ist abgeschickt. Die Stelle wird jetzt benachrichtigt."),
    "cancel": ("Zurückziehen", "Die Vermittlung ist zurückgezogen. Die Stelle wird benachrichtigt."),
    "entered_in_error": ("Als irrtümlich angelegt markieren", "Die Vermittlung ist als irrtümlich angelegt markiert."),
}
"""The steps this page offers (forwarding comes with its own page)."""
CANCEL_REASONS = {
    "client_moved": "Die Person ist umgezogen.",
    "no_longer_needed": "Die Vermittlung ist nicht mehr nötig.",
}
HISTORY = {
    "create": "angelegt",
    "submit": "abgeschickt",
    "acknowledge": "zur Kenntnis genommen",
    "accept": "angenommen",
    "start": "Bearbeitung begonnen",
    "hold": "zurückgestellt",
    "resume": "fortgesetzt",
    "complete": "abgeschlossen",
    "fail": "ohne Erfolg beendet",
    "decline": "abgelehnt",
    "forward": "weitergeleitet",
    "cancel": "zurückgezogen",
    "entered_in_error": "als irrtümlich markiert",
}
SIDE = {"sender": "Absender", "recipient": "Empfänger", "system": "System"}
OPEN = {"draft", "requested", "acknowledged", "accepted", "in_progress", "on_hold"}
"""States in which a consent still carries the referral (a withdrawal cancels it)."""


def status_label(status: str) -> str:
    try:
        return STATUS[ReferralStatus(status)]
    except ValueError:
        return status


def domain_title(code: str) -> str:
    try:
        return LegalDomain(code).title_de
    except ValueError:
        return code


def german_date(iso: str | None, with_time: bool = True) -> str:
    """``2026-12-03T10:44:00+00:00`` → ``03.12.2026, 11:44 Uhr`` (the time in Germany); a day as ``03.12.2026``."""
    if not iso:
        return ""
    if len(iso) <= 10:
        return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}"
    moment = datetime.fromisoformat(iso).astimezone(BERLIN)
    return moment.strftime("%d.%m.%Y, %H:%M Uhr" if with_time else "%d.%m.%Y")


def _referral(ident: str) -> dict[str, Any] | None:
    """The referral as the user may see it, or None where it does not exist for them."""
    if not UUID.fullmatch(ident):
        return None
    try:
        return api().referral(token(), ident)
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


SORTS = {
    "changed": "letzte Änderung zuerst",
    "newest": "zuletzt abgeschickt zuerst",
    "oldest": "zuerst abgeschickt zuerst",
    "due": "Frist zur Kenntnisnahme zuerst",
}
OVERDUE = "ueberfaellig"
"""The list's filter value for referrals whose acknowledgement is overdue (beside the states)."""


@bp.get("/vermittlungen")
@login_required
def listing() -> Any:
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in ReferralStatus} | {OVERDUE}:
        status = None
    sort = request.args.get("sortierung") or "changed"
    sort = sort if sort in SORTS else "changed"
    page = request.args.get("seite", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    overdue = status == OVERDUE
    found = api().referrals(token(), None if overdue else status, page_number, sort, overdue)
    user = current_user()
    title = "Eingang" if user and user["role"] == "agency" else "Meine Vermittlungen"
    return render_template(
        "_referrals.html" if partial() else "referrals.html",
        partial=partial(),
        title=title,
        user=user,
        found=found,
        unread=_unread(),
        sort=sort,
        sorts=SORTS,
        overdue_value=OVERDUE,
        status=status,
        statuses=STATUS,
    )


def _unread() -> dict[str, list[str]]:
    """The organisation's unread notifications (notify's inbox) by referral: the list marks those referrals.
    Without notify the list is shown all the same, without marks."""
    try:
        return api().unread(token())
    except ApiError:
        return {}


@bp.get("/referrals/<ident>")
@login_required
def page(ident: str) -> Any:
    referral = _referral(ident)
    if referral is None:
        return not_found()
    unread = _unread().get(ident)
    if unread:  # opened: its notifications are read, for everyone of the organisation
        with suppress(ApiError):
            api().mark_read(token(), unread)
    return render_template(
        "referral.html",
        title=f"Vermittlung: {domain_title(referral['legal_domain'])}",
        user=current_user(),
        referral=referral,
        actions={a: ACTIONS[a] for a in referral["allowed_actions"] if a in ACTIONS},
        reasons=[(r.value, r.label_de) for r in DeclineReason],
        cancel_reasons=CANCEL_REASONS,
        may_withdraw=_may_withdraw(referral),
        history_label=HISTORY,
        sides=SIDE,
        consent_roles=ROLES,
        told=TOLD,
        errors={},
    )


@bp.post("/referrals/<ident>/<action>")
@login_required
def act(ident: str, action: str) -> Any:
    if not UUID.fullmatch(ident) or action not in ACTIONS:
        abort(404)
    body: dict[str, Any] = {}
    note = request.form.get("note", "").strip()
    if action == "cancel":
        body["reason_code"] = request.form.get("reason_code", "")
        if body["reason_code"] not in CANCEL_REASONS:
            flash("Bitte wählen Sie, warum Sie die Vermittlung zurückziehen.")
            return redirect(url_for(".page", ident=ident) + "#zurueckziehen")
    if action == "decline":
        body["reason_code"] = request.form.get("reason_code", "")
        if body["reason_code"] == DeclineReason.SONSTIGES.value and not note:
            flash("Bitte schreiben Sie bei „sonstiges“ kurz, warum Sie ablehnen.")
            return redirect(url_for(".page", ident=ident) + "#ablehnen")
    if note:
        body["note"] = note
    try:
        api().act(token(), ident, action, body)
    except ApiError as error:
        if error.status == 409:
            flash("Das ging nicht: Die Vermittlung hat sich inzwischen geändert. Unten steht ihr aktueller Stand.")
        elif error.status in (400, 422):
            flash("Bitte prüfen Sie Ihre Angaben: " + "; ".join(error.fields.values()))
        elif error.status in (403, 404):
            return not_found()
        else:
            raise
    else:
        flash(ACTIONS[action][1])
    return redirect(url_for(".page", ident=ident))


def _may_withdraw(referral: dict[str, Any]) -> bool:
    """The sender's case managers record a withdrawal while the consent stands and the referral is open."""
    user = current_user()
    consent = referral.get("consent") or {}
    return bool(
        user
        and user["role"] == "case_manager"
        and user["organization_id"] == referral.get("sender_organization_id")
        and consent.get("id")
        and not consent.get("withdrawn_at")
        and referral["status"] in OPEN
    )


@bp.route("/referrals/<ident>/einwilligung-widerrufen", methods=["GET", "POST"])
@login_required
def withdraw(ident: str) -> Any:
    """Withdrawing the consent, confirmed first: it cancels every open referral resting on it."""
    referral = _referral(ident)
    if referral is None:
        return not_found()
    if not _may_withdraw(referral):
        flash(
            "Die Einwilligung kann hier nicht widerrufen werden: Sie ist schon widerrufen, "
            "oder die Vermittlung ist abgeschlossen."
        )
        return redirect(url_for(".page", ident=ident))
    if request.method == "GET":
        return render_template(
            "withdraw.html",
            title="Einwilligung widerrufen",
            user=current_user(),
            referral=referral,
        )
    cancelled = api().withdraw_consent(token(), referral["consent"]["id"])
    count = len(cancelled)
    flash(
        "Die Einwilligung ist widerrufen. "
        + ("Eine Vermittlung wurde zurückgezogen." if count == 1 else f"{count} Vermittlungen wurden zurückgezogen.")
    )
    return redirect(url_for(".page", ident=ident))


@bp.route("/referrals/<ident>/weiterleiten", methods=["GET", "POST"])
@login_required
def forward(ident: str) -> Any:
    """Forwarding to the competent body (§ 16 SGB I): the bodies routing names for the referral's domain and
    place, the receiving one left out; the choice is the user's."""
    referral = _referral(ident)
    if referral is None:
        return not_found()
    if "forward" not in referral["allowed_actions"]:
        flash("Diese Vermittlung kann nicht mehr weitergeleitet werden.")
        return redirect(url_for(".page", ident=ident))
    place = (request.values.get("ort") or "").strip() or referral.get("postal_code") or referral.get("place_name") or ""
    residence = referral.get("residence_of") if referral["legal_domain"] == "SGB_VIII" else None
    try:
        answer = api().responsible(token(), referral["legal_domain"], place, residence)
        candidates = [c for c in answer["candidates"] if c["organization_id"] != referral["recipient_organization_id"]]
    except ApiError:
        candidates = []
    errors: dict[str, str] = {}
    if request.method == "POST":
        chosen = request.form.get("stelle", "")
        if chosen not in {c["organization_id"] for c in candidates}:
            errors["stelle"] = "Wählen Sie die Stelle, an die Sie weiterleiten."
        else:
            try:
                api().act(token(), ident, "forward", {"to_organization_id": chosen})
            except ApiError as error:
                if error.status not in (400, 409, 422):
                    raise
                errors["stelle"] = "Die Weiterleitung ging nicht: " + (
                    "; ".join(error.fields.values()) or "bitte erneut"
                )
            else:
                name = next(c["name"] for c in candidates if c["organization_id"] == chosen)
                if (referral.get("consent") or {}).get("onward_transfer"):
                    flash(f"Die Vermittlung ist an {name} weitergeleitet. Die Stelle wird benachrichtigt.")
                else:
                    flash(
                        f"Die Vermittlung ist an {name} weitergeleitet. Sie geht dort ein, sobald die absendende "
                        "Stelle die Einwilligung der Person für diese Stelle festgehalten hat."
                    )
                return redirect(url_for(".page", ident=ident))
    return (
        render_template(
            "forward.html",
            title="Weiterleiten",
            user=current_user(),
            referral=referral,
            candidates=candidates,
            place=place,
            errors=errors,
        ),
        400 if errors else 200,
    )


BRING = {
    "SGB_II": ["Personalausweis, Pass oder Aufenthaltstitel", "Mietvertrag und Nachweise über die Wohnkosten",
               "Kontoauszüge der letzten drei Monate", "Nachweise über Einkommen und Vermögen"],
    "SGB_III": ["Personalausweis, Pass oder Aufenthaltstitel", "Lebenslauf", "Zeugnisse und Nachweise über Abschlüsse",
                "das Kündigungsschreiben oder den Arbeitsvertrag, falls vorhanden"],
    "SGB_VIII": ["Personalausweis, Pass oder Aufenthaltstitel", "Geburtsurkunde oder Ausweis des Kindes",
                 "Unterlagen, die das Anliegen betreffen (zum Beispiel Schreiben der Schule oder Kita)"],
    "AUFENTHG": ["Pass", "Aufenthaltstitel oder Bescheinigung", "ein aktuelles biometrisches Passfoto",
                 "Schreiben der Ausländerbehörde, falls vorhanden"],
    "STAG": ["Pass und Aufenthaltstitel", "Nachweis über Deutschkenntnisse (mindestens B1)",
             "Nachweis über den Einbürgerungstest", "Nachweise über Einkommen"],
}  # fmt: skip
"""What a client typically brings to a first appointment, by legal domain (a hint; the office may ask more)."""


@bp.get("/referrals/<ident>/merkblatt")
@login_required
def sheet(ident: str) -> Any:
    """The printable sheet for the client: where to go, when the office is open, what to bring."""
    referral = _referral(ident)
    if referral is None:
        return not_found()
    office = None
    place = referral.get("postal_code") or referral.get("place_name") or ""
    residence = referral.get("residence_of") if referral["legal_domain"] == "SGB_VIII" else None
    try:
        answer = api().responsible(token(), referral["legal_domain"], place, residence)
    except ApiError:
        answer = {"candidates": []}
    for candidate in answer["candidates"]:
        if candidate["organization_id"] == referral["recipient_organization_id"]:
            office = {**(candidate.get("office") or {}), "email": candidate.get("email")}
    return render_template(
        "sheet.html",
        title="Merkblatt",
        user=current_user(),
        referral=referral,
        office=office,
        bring=BRING.get(referral["legal_domain"], []),
    )


def register(app: Flask) -> None:
    for helper in (status_label, domain_title, german_date):  # every template writes states, domains, dates
        app.add_template_global(helper)
    app.register_blueprint(bp)
