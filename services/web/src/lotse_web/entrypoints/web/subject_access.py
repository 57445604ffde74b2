"""Auskunft und Löschung (DSGVO Art. 15 and 17), for admins: everything Lotse holds about one person, found
by name and birth date; exported as JSON; a consent withdrawn in the person's name; closed referrals erased
on the person's request. The name and birth date travel in form bodies only (POST), never in an address, and
nothing is kept between requests."""

import json
from typing import Any

from flask import Blueprint, Flask, Response, abort, make_response, render_template, request

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.admin import AUDITED, administrator, organisation_names
from lotse_web.entrypoints.web.local_time import today
from lotse_web.entrypoints.web.referrals import HISTORY, SIDE
from lotse_web.entrypoints.web.sending import CATEGORIES, ROLES, TOLD, day_given
from lotse_web.entrypoints.web.session import (
    ROLE_LABELS,
    UUID,
    api,
    login_required,
    only_for,
    settings,
    token,
)

bp = Blueprint("auskunft", __name__)
only_for(bp, "admin")
MATCHED = {
    "name_and_birth_date": "Name und Geburtsdatum stimmen überein.",
    "name_only": (
        "Der Name stimmt überein; ein Geburtsdatum wurde nicht erfasst. Prüfen Sie, ob es dieselbe Person ist."
    ),
}


SUPERVISOR = (
    "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen (LDI NRW), "
    "Kavalleriestraße 2–4, 40213 Düsseldorf, www.ldi.nrw.de"
)


def information(report: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """What Art. 15 Abs. 1 DSGVO says the person learns beside the data: controller, purposes, legal basis,
    recipients, categories, how long, where the data came from, their rights, the supervisory authority."""
    referrals = report["referrals"]
    senders = sorted({names.get(r["sender_organization_id"], r["sender_organization_id"]) for r in referrals})
    categories = sorted({CATEGORIES.get(k, k) for r in referrals for k in r["consent"]["data_categories"]})
    operator = settings().operator or "Die Stelle, die Lotse hier betreibt"
    return {
        "verantwortlich": operator + (f" ({settings().operator_email})" if settings().operator_email else ""),
        "zwecke": "Ihre Anfrage an die Stelle weitergeben, die Ihnen helfen kann, und verfolgen, ob sie angekommen "
        "ist und beantwortet wird.",
        "rechtsgrundlage": "Ihre Einwilligung (Art. 6 Abs. 1 Buchst. a DSGVO, § 67b SGB X).",
        "kategorien": categories,
        "empfaenger": sorted({r["recipient_name"] for r in referrals}),
        "herkunft": "Die Angaben haben Sie der Beratung gegeben: " + (", ".join(senders) or "–") + ".",
        "speicherdauer": f"Bis {report['retention_days']} Tage nach dem Ende einer Vermittlung; danach werden Ihre "
        "Daten gelöscht. Was für Statistiken bleibt, nennt Sie nicht.",
        "automatisierte_entscheidung": "Lotse schlägt die zuständige Stelle nach festen Regeln vor; ob und wohin "
        "vermittelt wird, entscheidet die Fachkraft mit Ihnen (keine Entscheidung nach Art. 22 DSGVO).",
        "rechte": [
            "Auskunft (Art. 15 DSGVO)",
            "Berichtigung falscher Daten (Art. 16 DSGVO)",
            "Löschung (Art. 17 DSGVO)",
            "Einschränkung der Verarbeitung (Art. 18 DSGVO)",
            "Widerruf der Einwilligung, jederzeit, für die Zukunft (Art. 7 Abs. 3 DSGVO)",
        ],
        "beschwerde": SUPERVISOR,
    }


LABELS = {
    "verantwortlich": "Verantwortlich",
    "zwecke": "Wozu",
    "rechtsgrundlage": "Rechtsgrundlage",
    "kategorien": "Welche Daten",
    "empfaenger": "An wen weitergegeben",
    "herkunft": "Woher",
    "speicherdauer": "Wie lange",
    "automatisierte_entscheidung": "Automatisierte Entscheidung",
    "rechte": "Rechte der Person",
    "beschwerde": "Beschwerde bei der Aufsicht",
}
"""The headings of :func:`information` on the page."""


def _person() -> tuple[dict[str, str], str]:
    """The form's name and birth date as given, and the birth date as ISO; a form with what is wrong shown
    instead (422) where either is missing or no date."""
    given = {"name": request.form.get("name", "").strip(), "geburtsdatum": request.form.get("geburtsdatum", "").strip()}
    errors = {}
    if not given["name"]:
        errors["name"] = "Geben Sie den Namen der Person ein."
    elif len(given["name"]) > 200:
        errors["name"] = "Der Name ist zu lang (höchstens 200 Zeichen)."
    born = day_given(given["geburtsdatum"])
    if born is None:
        errors["geburtsdatum"] = "Geben Sie das Geburtsdatum als Datum ein, zum Beispiel 01.04.1990."
    if errors or born is None:
        abort(make_response(_page(given, errors)))
    return given, born


def _page(given: dict[str, str], errors: dict[str, str] | None = None, **shown: Any) -> Any:
    report = shown.get("report")
    names = _names(report) if report else {}
    return render_template(
        "admin_subject.html",
        title="Auskunft und Löschung",
        user=administrator(),
        given=given,
        errors=errors or {},
        names=names,
        matched=MATCHED,
        roles=ROLE_LABELS,
        consent_roles=ROLES,
        told=TOLD,
        categories=CATEGORIES,
        actions=AUDITED,
        history_label=HISTORY,
        sides=SIDE,
        information=information(report, names) if report and report["referrals"] else None,
        labels=LABELS,
        **shown,
    ), (422 if errors else 200)


def _names(report: dict[str, Any]) -> dict[str, str]:
    """The names of the organisations the report mentions."""
    ids = {a["organization_id"] for a in report["audit"] if a.get("organization_id")}
    return organisation_names(ids | {r["sender_organization_id"] for r in report["referrals"]})


def _report(given: dict[str, str], born: str, **shown: Any) -> Any:
    return _page(given, report=api().subject_access(token(), given["name"], born), **shown)


@bp.get("/verwaltung/auskunft")
@login_required
def form() -> Any:
    return _page({"name": "", "geburtsdatum": ""})


@bp.post("/verwaltung/auskunft")
@login_required
def search() -> Any:
    given, born = _person()
    return _report(given, born)


@bp.post("/verwaltung/auskunft/export")
@login_required
def export() -> Any:
    """The whole answer as JSON, for the copy the person receives (Art. 15 Abs. 3: in a common electronic form)."""
    given, born = _person()
    report = api().subject_access(token(), given["name"], born)
    day = today().isoformat()
    copy = {"auskunft_nach": "Art. 15 DSGVO", **information(report, _names(report)), "daten": report}
    return Response(
        json.dumps(copy, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="auskunft-art-15-dsgvo-{day}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/verwaltung/auskunft/widerruf")
@login_required
def withdraw() -> Any:
    """The person withdraws a consent (recorded by the admin): the open referrals resting on it are cancelled,
    and can then be erased."""
    given, born = _person()
    consent_id = request.form.get("einwilligung", "")
    if not UUID.fullmatch(consent_id):
        return _report(given, born, warning="Diese Einwilligung ist nicht zu finden.")
    try:
        cancelled = api().withdraw_consent(token(), consent_id)
    except ApiError as error:
        if error.status not in (404, 409):
            raise
        return _report(given, born, warning="Diese Einwilligung ist schon widerrufen oder nicht mehr zu finden.")
    count = len(cancelled)
    done = "eine offene Vermittlung ist" if count == 1 else f"{count} offene Vermittlungen sind"
    return _report(given, born, notice=f"Die Einwilligung ist widerrufen; {done} zurückgezogen.")


@bp.post("/verwaltung/auskunft/loeschen")
@login_required
def erase() -> Any:
    """Erase the person's data from the chosen closed referrals, after the admin confirms the request."""
    given, born = _person()
    chosen = [i for i in request.form.getlist("vermittlung") if UUID.fullmatch(i)]
    problems = {}
    if not chosen:
        problems["vermittlung"] = "Wählen Sie mindestens eine abgeschlossene Vermittlung."
    if request.form.get("bestaetigt") != "ja":
        problems["bestaetigt"] = "Bestätigen Sie, dass die Person die Löschung verlangt hat und nichts entgegensteht."
    if problems:
        report = api().subject_access(token(), given["name"], born)
        return _page(given, problems, report=report)
    try:
        erased = api().erase_subject(token(), given["name"], born, chosen)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        return _report(
            given,
            born,
            warning="Nichts wurde gelöscht: Eine der Vermittlungen ist noch offen oder "
            "gehört nicht zu dieser Person. Die Liste unten ist neu geladen.",
        )
    count = len(erased)
    done = "einer Vermittlung sind" if count == 1 else f"{count} Vermittlungen sind"
    return _report(given, born, notice=f"Die Daten der Person aus {done} gelöscht.")


def register(app: Flask) -> None:
    app.register_blueprint(bp)
