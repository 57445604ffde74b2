"""Zuständigkeiten: who is responsible for which legal domain where, kept by those who keep a region (a
Kreis's KIM coordination: maintainers with region keys) and admins. The list of the region's jurisdictions;
a new one with its Gemeinde or Kreis found by name in the gazetteer, an optional PLZ list, source and
verified-on date; before saving, a preview of what "Wer ist zuständig?" answers there today and which
jurisdictions the new one would overlap (then the directory keeps it as a proposal until a second person who
keeps the region confirms it, on this page)."""

from datetime import date
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from lotse_contracts import LegalDomain

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web import local_time
from lotse_web.entrypoints.web.maintain import found_entry, revision_read
from lotse_web.entrypoints.web.places import place_name
from lotse_web.entrypoints.web.responsible import DOMAINS
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, token

bp = Blueprint("jurisdictions", __name__)
MESSAGES = {
    "rechtskreis": "Wählen Sie den Rechtskreis.",
    "stelle": "Wählen Sie die zuständige Behörde, eine des gewählten Rechtskreises.",
    "region": "Diesen Kreis und diese Gemeinde kennen wir nicht. Geben Sie einen Namen, eine PLZ oder einen "
    "Gemeindeschlüssel ein.",
    "plz": "Geben Sie fünfstellige Postleitzahlen ein, durch Kommas getrennt.",
    "quelle": "Geben Sie an, woher die Regel stammt (Gesetz, Satzung, Internetseite der Behörde).",
    "geprueft": "Geben Sie das Datum ein, an dem die Regel geprüft wurde.",
}
CHANGE_TAKES_OVER = (
    "So nicht gespeichert: Damit wäre diese Stelle auch dort zuständig, wo heute eine andere zuständig ist. Legen "
    "Sie das als neue Zuständigkeit an (eine zweite Person bestätigt sie) und entfernen Sie dann diese."
)
SAVED_MEANWHILE = (
    "So nicht gespeichert: Jemand hat die Zuständigkeit inzwischen geändert. Unten steht, was jetzt gilt; Ihre "
    "Eingabe steht im Formular. Prüfen Sie sie und speichern Sie noch einmal."
)


def _keeper() -> dict[str, Any] | None:
    """Who keeps jurisdictions: admins, and maintainers whose login names region keys."""
    user = current_user()
    if user and (user["role"] == "admin" or (user["role"] == "maintainer" and user["regions"])):
        return user
    return None


def _mine(user: dict[str, Any]) -> list[dict[str, Any]]:
    """The jurisdictions of the user's regions (an admin's: all)."""
    if user["role"] == "admin":
        return api().entries(token(), "jurisdictions")
    return [row for key in user["regions"] for row in api().entries(token(), "jurisdictions", region=key)]


def overlapping(new: dict[str, Any], held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jurisdictions of the same legal domain that decide places the new one would decide too (one region
    within the other, not only on other PLZ)."""
    found = []
    for row in held:
        if row["legal_domain"] != new["legal_domain"]:
            continue
        mine, theirs = str(new["region_key"]), str(row["region_key"])
        if not (mine.startswith(theirs) or theirs.startswith(mine)):
            continue
        codes, their_codes = set(new.get("postal_codes") or ()), set(row.get("postal_codes") or ())
        if codes and their_codes and not codes & their_codes:
            continue
        found.append(row)
    return found


def _given() -> dict[str, str]:
    form = request.form
    return {
        "rechtskreis": form.get("rechtskreis", ""),
        "stelle": form.get("stelle", ""),
        "region": form.get("region", "").strip()[:100],
        "plz": form.get("plz", "").strip()[:600],
        "quelle": form.get("quelle", "").strip()[:500],
        "geprueft": form.get("geprueft", "") or local_time.today().isoformat(),
        "einheit": form.get("einheit", "").strip()[:200],
    }


def _checked(
    given: dict[str, str], authorities: dict[str, list[tuple[str, str]]]
) -> tuple[dict[str, Any], dict[str, str], str]:
    """The jurisdiction to create, what is wrong with the input, and the place the region was found as."""
    errors: dict[str, str] = {}
    if given["rechtskreis"] not in {d.value for d in DOMAINS}:
        errors["rechtskreis"] = MESSAGES["rechtskreis"]
    if given["stelle"] not in {ident for ident, _ in authorities.get(given["rechtskreis"], [])}:
        errors["stelle"] = MESSAGES["stelle"]
    key, place = "", ""
    if given["region"]:
        found = api().geocode(token(), given["region"])
        if found:
            key = str(found[0].get("ags") or found[0].get("kreis_key") or "")
            place = str(found[0].get("address") or found[0].get("name") or "")
    if not key:
        errors["region"] = MESSAGES["region"]
    codes = [c.strip() for c in given["plz"].replace(";", ",").split(",") if c.strip()]
    if any(not (c.isdigit() and len(c) == 5) for c in codes):
        errors["plz"] = MESSAGES["plz"]
    if not given["quelle"]:
        errors["quelle"] = MESSAGES["quelle"]
    try:
        checked_on = date.fromisoformat(given["geprueft"])
        if checked_on > local_time.today():
            errors["geprueft"] = "Das Prüfdatum darf nicht in der Zukunft liegen."
    except ValueError:
        errors["geprueft"] = MESSAGES["geprueft"]
    body: dict[str, Any] = {
        "organization_id": given["stelle"],
        "legal_domain": given["rechtskreis"],
        "region_key": key,
        "source": given["quelle"],
        "verified_on": given["geprueft"],
    }
    if codes:
        body["postal_codes"] = codes
    if given["einheit"]:
        body["unit"] = given["einheit"]
    return body, errors, place


def _today(domain: str, region_key: str) -> dict[str, Any] | None:
    """What "Wer ist zuständig?" answers today for the region (for SGB VIII: the parents' residence)."""
    residence = "parents" if domain == LegalDomain.SGB_VIII.value else None
    try:
        return api().responsible(token(), domain, region_key, residence)
    except ApiError:
        return None


def _choices() -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """The bodies that may be declared responsible: id → name, and per legal domain (id, name) by name."""
    organisations = api().authorities(token())
    authorities: dict[str, list[tuple[str, str]]] = {d.value: [] for d in DOMAINS}
    for o in organisations:
        for code in o.get("authority_for") or []:
            authorities.setdefault(code, []).append((str(o["id"]), str(o.get("name"))))
    return {str(o["id"]): str(o.get("name") or o["id"]) for o in organisations}, authorities


def _previewed(
    given: dict[str, str], authorities: dict[str, list[tuple[str, str]]], held: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any] | None]:
    """The form's jurisdiction, what is wrong with it (the source and date are asked for when saving only) and,
    when it is right and a preview was asked for, what "Wer ist zuständig?" answers there today and which of
    ``held`` it overlaps."""
    body, errors, place = _checked(given, authorities)
    if request.form.get("aktion") == "vorschau":
        errors = {k: v for k, v in errors.items() if k not in ("quelle", "geprueft")}
        if not errors:
            today = _today(given["rechtskreis"], body["region_key"])
            return body, errors, {"place": place, "today": today, "conflicts": overlapping(body, held), "body": body}
    return body, errors, None


@bp.route("/pflege/zustaendigkeiten", methods=["GET", "POST"])
@login_required
def page() -> Any:
    user = _keeper()
    if user is None:
        return not_found()
    names, authorities = _choices()
    held = _mine(user)
    given = _given() if request.method == "POST" else {"geprueft": local_time.today().isoformat()}
    errors: dict[str, str] = {}
    preview: dict[str, Any] | None = None
    if request.method == "POST" and request.form.get("aktion") in ("vorschau", "speichern"):
        body, errors, preview = _previewed(given, authorities, held)
        if request.form.get("aktion") == "speichern" and not errors:
            return _save(body, names)
    rows = sorted(held, key=lambda r: (str(r["region_key"]), str(r["legal_domain"])))
    return (
        render_template(
            "jurisdictions.html",
            title="Zuständigkeiten",
            user=user,
            rows=rows[:300],
            total=len(rows),
            names=names,
            place_name=place_name if len({r["region_key"] for r in rows}) <= 60 else (lambda key: key),
            given=given,
            errors=errors,
            authorities=authorities,
            domains=DOMAINS,
            preview=preview,
        ),
        400 if errors else 200,
    )


@bp.route("/pflege/zustaendigkeiten/<ident>", methods=["GET", "POST"])
@login_required
def edit(ident: str) -> Any:
    """Change a jurisdiction: narrow its area, correct its unit, source or date. The directory refuses a change
    that would take over where another body is responsible today (that is a new proposal)."""
    user = _keeper()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    found = found_entry("jurisdictions", ident)
    if found is None:
        return not_found()
    row, etag = found
    names, authorities = _choices()
    given = {
        "rechtskreis": str(row["legal_domain"]),
        "stelle": str(row["organization_id"]),
        "region": str(row["region_key"]),
        "plz": ", ".join(row.get("postal_codes") or ()),
        "quelle": str(row.get("source") or ""),
        "geprueft": str(row.get("verified_on") or ""),
        "einheit": str(row.get("unit") or ""),
    }
    errors: dict[str, str] = {}
    preview: dict[str, Any] | None = None
    refused: str | None = None  # what the directory said to the save
    revision = etag
    if request.method == "POST":
        given, revision = _given(), revision_read(request.form.get("revision"))
        others = [r for r in _mine(user) if r["id"] != ident]
        body, errors, preview = _previewed(given, authorities, others)
        if request.form.get("aktion") == "speichern" and not errors:
            patch = {"postal_codes": None, "unit": None, **body}  # cleared fields are cleared
            try:
                api().change_entry(token(), "jurisdictions", ident, patch, revision)
                flash("Die Zuständigkeit ist geändert. „Wer ist zuständig?“ antwortet ab sofort so.")
                return redirect(url_for(".page"))
            except ApiError as error:
                if error.status == 409:
                    refused = CHANGE_TAKES_OVER
                elif error.status == 412:
                    refused = SAVED_MEANWHILE
                    row, revision = api().entry(token(), "jurisdictions", ident)
                elif error.status in (400, 422):
                    reasons = "; ".join(error.fields.values()) or str(error.problem.get("detail", ""))
                    refused = f"So nicht gespeichert: {reasons}"
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
    return (
        render_template(
            "jurisdiction.html",
            title="Zuständigkeit ändern",
            user=user,
            row=row,
            revision=revision,
            editing=True,
            names=names,
            place_name=place_name,
            given=given,
            errors=errors,
            authorities=authorities,
            domains=DOMAINS,
            preview=preview,
            refused=refused,
        ),
        409 if refused in (CHANGE_TAKES_OVER, SAVED_MEANWHILE) else 400 if errors or refused else 200,
    )


def _save(body: dict[str, Any], names: dict[str, str]) -> Any:
    try:
        made = api().create_entry(token(), "jurisdictions", body)
    except ApiError as error:
        if error.status in (400, 403, 409, 422):
            reasons = "; ".join(error.fields.values()) or str(error.problem.get("detail", ""))
            flash(f"Die Zuständigkeit ist nicht gespeichert: {reasons}")
            return redirect(url_for(".page"))
        raise
    who = names.get(body["organization_id"], "Die Behörde")
    if made.get("status") == "proposed":
        flash(
            f"Gespeichert als Vorschlag: {who} übernähme damit, wofür heute eine andere Stelle zuständig ist. "
            "Er gilt erst, wenn eine zweite Person, die die Region pflegt, ihn hier bestätigt."
        )
    else:
        flash(f"Gespeichert: {who} ist jetzt zuständig. „Wer ist zuständig?“ antwortet ab sofort so.")
    return redirect(url_for(".page"))


@bp.post("/pflege/zustaendigkeiten/<ident>/<step>")
@login_required
def change(ident: str, step: str) -> Any:
    if _keeper() is None or not UUID.fullmatch(ident) or step not in ("bestaetigen", "geprueft", "entfernen"):
        return not_found()
    try:
        if step == "bestaetigen":
            api().confirm_proposal(token(), ident)
            flash("Der Vorschlag ist bestätigt und gilt ab sofort.")
        elif step == "entfernen":
            api().remove_entry(token(), "jurisdictions", ident)
            flash("Die Zuständigkeit ist entfernt. „Wer ist zuständig?“ nennt diese Stelle dort nicht mehr.")
        else:
            api().confirm(token(), "jurisdictions", ident)
            flash("Die Zuständigkeit ist als geprüft bestätigt.")
    except ApiError as error:
        if error.status == 404:
            return not_found()
        if error.status == 403:
            flash(
                "Einen Vorschlag bestätigt eine zweite Person, nicht wer ihn gemacht hat."
                if step == "bestaetigen"
                else "Das dürfen nur Personen, die diese Region pflegen."
            )
        elif error.status in (409, 412):
            flash("Das ging nicht: Die Zuständigkeit wurde gerade geändert. Bitte sehen Sie sie sich noch einmal an.")
        else:
            raise
    return redirect(url_for(".page"))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
