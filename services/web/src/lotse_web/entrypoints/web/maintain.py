"""Verzeichnis pflegen: the directory maintainers' pages. What is due for confirmation, the organisation's
offers, an offer's details and its opening hours. Every change is guarded by the ETag the page was built
from; when someone else saved in between, the page shows both versions side by side and lets the maintainer
choose field by field."""

import json
import re
from datetime import date
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from lotse_contracts import LegalDomain

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web import local_time
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, token

bp = Blueprint("maintain", __name__)
MAINTAINERS = ("maintainer", "admin")
ETAG = re.compile(r'^"\d{1,18}"$')
WEEKDAYS = {
    "MO": "Montag",
    "TU": "Dienstag",
    "WE": "Mittwoch",
    "TH": "Donnerstag",
    "FR": "Freitag",
    "SA": "Samstag",
    "SU": "Sonntag",
}
STATUS = {
    "active": "läuft",
    "temporarily closed": "vorübergehend geschlossen",
    "inactive": "ruht",
    "defunct": "eingestellt",
}
TEXTS = {  # field: (label, hint, multi-line)
    "name": ("Name des Angebots", "", False),
    "description": ("Beschreibung", "Was das Angebot leistet, in einfacher Sprache", True),
    "eligibility_description": ("Für wen", "Wer das Angebot nutzen kann", True),
    "application_process": ("So kommt man hin", "Anmeldung, Termin, offene Sprechstunde", True),
    "fees_description": ("Kosten", "Leer lassen, wenn es nichts kostet", False),
    "interpretation_services": ("Dolmetschen", "Welche Sprachen mit Dolmetschen möglich sind", False),
    "wait_time": ("Wartezeit", "z. B. „etwa zwei Wochen bis zum Ersttermin“", False),
    "url": ("Internetseite", "Mit https://", False),
    "email": ("E-Mail", "", False),
}
AGES = {"minimum_age": "Ab welchem Alter", "maximum_age": "Bis zu welchem Alter"}
LABELS = {
    **{k: v[0] for k, v in TEXTS.items()},
    **AGES,
    "status": "Stand",
    "legal_domains": "Rechtskreise",
    "verified_at": "Bestätigt am",
    "verified_by": "Bestätigt von",
    "last_modified": "Öffnungszeiten geändert",
}
REASONS = {
    "name": "Geben Sie einen Namen ein.",
    "url": "Geben Sie eine vollständige Adresse ein, die mit https:// beginnt.",
    "email": "Geben Sie eine E-Mail-Adresse wie beratung@beispiel.de ein.",
    "minimum_age": "Geben Sie ein Alter in Jahren ein (0 bis 120).",
    "maximum_age": "Geben Sie ein Alter in Jahren ein (0 bis 120), nicht kleiner als das Mindestalter.",
}


CHANGED_MEANWHILE = "Das ging nicht: Der Eintrag wurde gerade geändert. Bitte sehen Sie ihn sich noch einmal an."


def click_refused(error: ApiError, back: str) -> Any:
    """The answer to a one-click change (confirm, delete) the directory refused: the not-found page where the
    entry is gone or not the user's, back to ``back`` with a note where it changed meanwhile; else it raises."""
    if error.status in (403, 404):
        return not_found()
    if error.status not in (409, 412):
        raise error
    flash(CHANGED_MEANWHILE)
    return redirect(back)


def maintainer() -> dict[str, Any] | None:
    """The signed-in user if they maintain the directory (maintainers, admins)."""
    user = current_user()
    return user if user and user["role"] in MAINTAINERS else None


def found_entry(collection: str, ident: str) -> tuple[dict[str, Any], str] | None:
    """A directory entry the user may see, with its ETag; None where there is none for them (404)."""
    try:
        return api().entry(token(), collection, ident)
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def revision_read(value: str | None) -> str:
    """The revision a form was built from; one that matches no revision when the form lost it (so that the
    save shows what is stored instead of overwriting it)."""
    return value if value and ETAG.match(value) else '"0"'


@bp.get("/pflege")
@login_required
def overview() -> Any:
    """What is due, and the organisation's offers (searchable)."""
    user = maintainer()
    if user is None:
        return not_found()
    due = api().due(token())
    words = request.args.get("q", "").strip()[:200]
    query = {"q": words, "organization_id": user["organization_id"], "per_page": 50}
    offers = api().search(token(), query)
    hints = api().provider_replies(token(), open_only=True)
    return render_template(
        "maintain.html", title="Verzeichnis pflegen", user=user, due=due, offers=offers, words=words, hints=hints
    )


@bp.post("/pflege/bestaetigen/<collection>/<ident>")
@login_required
def confirm(collection: str, ident: str) -> Any:
    """One click: the entry is still right as it is."""
    names = {"services": "Das Angebot", "organizations": "Die Organisation", "locations": "Der Ort"}
    if maintainer() is None or collection not in {*names, "jurisdictions"} or not UUID.fullmatch(ident):
        return not_found()
    try:
        api().confirm(token(), collection, ident)
    except ApiError as error:
        return click_refused(error, url_for(".overview"))
    flash(f"{names.get(collection, 'Die Zuständigkeit')} ist als aktuell bestätigt.")
    return redirect(url_for(".overview"))


# -- an offer's details ---------------------------------------------------------------------------------
def _given(form: Any) -> dict[str, Any]:
    """The offer's fields as the form gives them (empty: None)."""
    given: dict[str, Any] = {k: (form.get(k) or "").strip() or None for k in TEXTS}
    for k in AGES:
        given[k] = (form.get(k) or "").strip() or None
    given["status"] = form.get("status") or "active"
    given["legal_domains"] = [d for d in form.getlist("legal_domains") if d in {x.value for x in LegalDomain}] or None
    return given


def _checked(given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The patch to send and what is wrong with the input, in German."""
    errors: dict[str, str] = {}
    patch = dict(given)
    if not patch["name"]:
        errors["name"] = REASONS["name"]
    if patch["url"] and not re.match(r"^https?://[^\s/]+\.[^\s]+$", patch["url"]):
        errors["url"] = REASONS["url"]
    if patch["email"] and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", patch["email"]):
        errors["email"] = REASONS["email"]
    if patch["status"] not in STATUS:
        errors["status"] = "Wählen Sie einen Stand."
    for k in AGES:
        raw = patch[k]
        if raw is None:
            continue
        if not raw.isdigit() or int(raw) > 120:
            errors[k] = REASONS[k]
        else:
            patch[k] = int(raw)
    return patch, errors


def _differences(mine: dict[str, Any], stored: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """The fields where the maintainer's input and what is stored now differ: (field, label, mine, stored)."""
    return [(k, LABELS.get(k, k), v, stored.get(k)) for k, v in mine.items() if (stored.get(k) or None) != v]


@bp.route("/pflege/angebote/<ident>", methods=["GET", "POST"])
@login_required
def offer(ident: str) -> Any:
    user = maintainer()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    found = found_entry("services", ident)
    if found is None:
        return not_found()
    stored, etag = found
    errors: dict[str, str] = {}
    conflict: list[tuple[str, str, Any, Any]] = []
    given = {k: stored.get(k) for k in (*TEXTS, *AGES, "status", "legal_domains")}
    for k in AGES:  # the directory keeps numbers: 16.0 is shown as 16
        age = given[k]
        if isinstance(age, float) and age.is_integer():
            given[k] = int(age)
    revision = etag
    if request.method == "POST":
        given = _given(request.form)
        patch, errors = _checked(given)
        revision = revision_read(request.form.get("revision"))
        settled = [k for k in request.form.get("konflikt", "").split(",") if k in given]
        for k in settled:  # a conflict shown before: each field's version chosen
            if request.form.get(f"wahl_{k}") not in ("meine", "gespeichert"):
                errors[f"wahl_{k}"] = "Wählen Sie, welche Fassung gelten soll."
            elif request.form.get(f"wahl_{k}") == "gespeichert":
                del patch[k]
        if errors and settled:
            conflict = _differences({k: given[k] for k in settled}, stored)
        if not errors:
            try:
                api().change_entry(token(), "services", ident, patch, revision)
                flash("Die Änderungen sind gespeichert. Fallmanager:innen sehen sie ab sofort in der Suche.")
                return redirect(url_for(".offer", ident=ident))
            except ApiError as error:
                if error.status == 412:  # someone saved in between: compare with what is stored now
                    stored, etag = api().entry(token(), "services", ident)
                    conflict, revision = _differences(patch, stored), etag
                    if not conflict:  # they saved just what this form says
                        flash("Die Änderungen sind gespeichert.")
                        return redirect(url_for(".offer", ident=ident))
                elif error.status in (400, 422):
                    errors = {
                        n: REASONS.get(n, f"Bitte prüfen Sie diese Angabe ({r}).") for n, r in error.fields.items()
                    }
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
    return (
        render_template(
            "maintain_offer.html",
            title=f"Angebot bearbeiten: {stored.get('name')}",
            user=user,
            offer=stored,
            revision=revision,
            given=given,
            errors=errors,
            conflict=conflict,
            history=history("services", ident, user["id"]),
            replies=api().provider_replies(token(), service_id=ident),
            texts=TEXTS,
            ages=AGES,
            statuses=STATUS,
            domains=[d.value for d in LegalDomain],
        ),
        409 if conflict and not errors else 400 if errors else 200,
    )


def history(collection: str, ident: str, me: str) -> list[dict[str, Any]]:
    """An entry's newest 20 changes, newest first, with German field names where they have one."""
    rows = api().history(token(), collection, ident)
    created = [r for r in rows if r.get("last_action_type") == "create"][:1]  # one row per field: said once
    rows = [
        r
        for r in rows
        if (r.get("last_action_type") != "create" or r in created) and r.get("field_name") != "verified_by"
    ]
    return [
        {
            "when": r.get("last_action_date"),
            "what": LABELS.get(r.get("field_name") or "", r.get("field_name")),
            "action": "verify" if r.get("field_name") == "verified_at" else r.get("last_action_type"),
            "old": _said(r.get("previous_value")),
            "new": _said(r.get("replacement_value")),
            "by_me": r.get("updated_by") == me,
        }
        for r in reversed(rows[-20:])
    ]


def _said(value: Any) -> str:
    """A history value as people read it: a list (kept as JSON) joined, a legal domain by its name."""
    text = str(value or "")
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return text
        titles = {d.value: d.title_de for d in LegalDomain}
        return ", ".join(titles.get(str(i), str(i)) for i in items)
    return text


# -- an offer's opening hours ---------------------------------------------------------------------------
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _hours_from(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The hours the editor's form gives, and what is wrong with them (by the form's field ids)."""
    errors: dict[str, str] = {}
    weekly = []
    for i in range(_count(form.get("zeilen"))):
        days = [d for d in WEEKDAYS if d in form.getlist(f"tage_{i}")]
        opens, closes = (form.get(f"von_{i}") or "").strip(), (form.get(f"bis_{i}") or "").strip()
        if not (days or opens or closes):
            continue
        if not days:
            errors[f"tage_{i}"] = "Wählen Sie mindestens einen Tag."
        if not _TIME.match(opens):
            errors[f"von_{i}"] = "Geben Sie die Uhrzeit ein, zu der geöffnet wird, z. B. 08:30."
        if not _TIME.match(closes):
            errors[f"bis_{i}"] = "Geben Sie die Uhrzeit ein, zu der geschlossen wird, z. B. 12:00."
        elif _TIME.match(opens) and closes <= opens:
            errors[f"bis_{i}"] = "Die Schließzeit muss nach der Öffnungszeit liegen."
        weekly.append({"days": days, "opens_at": opens, "closes_at": closes, "row": i})
    closures = []
    for j in range(_count(form.get("schliessungen"))):
        first = (form.get(f"schliessung_von_{j}") or "").strip()
        last = (form.get(f"schliessung_bis_{j}") or "").strip()
        note = (form.get(f"schliessung_grund_{j}") or "").strip()[:200]
        if not (first or last or note):
            continue
        start, end = _date(first), _date(last)
        if start is None:
            errors[f"schliessung_von_{j}"] = "Geben Sie den ersten geschlossenen Tag ein."
        if end is None:
            errors[f"schliessung_bis_{j}"] = "Geben Sie den letzten geschlossenen Tag ein."
        elif start is not None and end < start:
            errors[f"schliessung_bis_{j}"] = "Der letzte Tag darf nicht vor dem ersten liegen."
        closures.append({"from": first, "to": last, "note": note, "row": j})
    hours = {
        "weekly": weekly,
        "by_appointment": bool(form.get("nach_vereinbarung")),
        "closed_on_public_holidays": bool(form.get("feiertage")),
        "closures": closures,
    }
    return hours, errors


def _count(value: str | None) -> int:
    """How many rows the form has (at most 50, as the directory takes)."""
    return min(int(value), 50) if value and value.isdigit() else 0


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _for_api(hours: dict[str, Any]) -> dict[str, Any]:
    return {
        **hours,
        "weekly": [{k: r[k] for k in ("days", "opens_at", "closes_at")} for r in hours["weekly"]],
        "closures": [{k: c[k] for k in ("from", "to", "note")} for c in hours["closures"]],
    }


def week_in_german(hours: dict[str, Any], today: date | None = None) -> list[str]:
    """The hours as case managers read them: a line per weekday, then appointments, holidays and the
    closures that are not over."""
    today = today or local_time.today()
    lines = []
    for code, day in WEEKDAYS.items():
        ranges = sorted((r["opens_at"], r["closes_at"]) for r in hours["weekly"] if code in r["days"])
        said = " und ".join(f"{a} bis {b}" for a, b in ranges)
        lines.append(f"{day}: {said} Uhr" if said else f"{day}: geschlossen")
    if hours["by_appointment"]:
        lines.append("Termine auch nach Vereinbarung" if hours["weekly"] else "Nur nach Vereinbarung")
    if hours["closed_on_public_holidays"]:
        lines.append("An Feiertagen in NRW geschlossen")
    for c in hours["closures"]:
        first, last = _date(c["from"]), _date(c["to"])
        if first and last and last >= today:
            why = f" ({c['note']})" if c.get("note") else ""
            lines.append(f"Vorübergehend geschlossen vom {first:%d.%m.%Y} bis {last:%d.%m.%Y}{why}")
    return lines


@bp.route("/pflege/angebote/<ident>/oeffnungszeiten", methods=["GET", "POST"])
@login_required
def hours(ident: str) -> Any:
    user = maintainer()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    try:
        stored, etag = api().opening_hours(token(), ident)  # with the offer's name: one call
    except ApiError as error:
        if error.status == 404:
            return not_found()
        raise
    errors: dict[str, str] = {}
    conflict = False
    hours = {k: stored[k] for k in ("weekly", "by_appointment", "closed_on_public_holidays", "closures")}
    extra_rows = extra_closures = 1
    if request.method == "POST":
        hours, errors = _hours_from(request.form)
        step = request.form.get("aktion")
        extra_rows = 1 + (step == "zeile")
        extra_closures = 1 + (step == "schliessung")
        if step == "speichern" and not errors:
            read = revision_read(request.form.get("revision"))
            try:
                api().save_opening_hours(token(), ident, _for_api(hours), read)
                flash("Die Öffnungszeiten sind gespeichert. Fallmanager:innen sehen sie ab sofort.")
                return redirect(url_for(".hours", ident=ident))
            except ApiError as error:
                if error.status == 412:
                    conflict = True
                elif error.status in (400, 422):
                    errors = {"zeiten": "Die Öffnungszeiten passen so nicht: " + "; ".join(error.fields.values())}
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
    return (
        render_template(
            "maintain_hours.html",
            title=f"Öffnungszeiten: {stored['service_name']}",
            user=user,
            offer={"id": stored["service_id"], "name": stored["service_name"]},
            etag=etag,
            hours=hours,
            rows=[*hours["weekly"], *({} for _ in range(extra_rows))],
            closures=[*hours["closures"], *({} for _ in range(extra_closures))],
            kept=stored["kept"],
            errors=errors,
            conflict=conflict,
            stored_week=week_in_german(stored),
            preview=week_in_german(hours),
            weekdays=WEEKDAYS,
        ),
        409 if conflict else 400 if errors else 200,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
