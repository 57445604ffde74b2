"""Importieren und exportieren: a maintainer uploads an HSDS JSON file or a CSV data package (ZIP), which the
directory imports all or nothing, and reads what was created, changed or left as it was, or every problem of
the file with nothing taken over; and downloads the organisation's entries (admins: the whole directory) in
both formats. The upload shows its progress where JavaScript runs."""

from typing import Any

from flask import Blueprint, Flask, Response, render_template, request

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.maintain import maintainer
from lotse_web.entrypoints.web.session import api, login_required, not_found, token

bp = Blueprint("exchange", __name__)
MAX_UPLOAD = 50_000_000
"""As large as the directory takes an import (LOTSE_DIRECTORY_MAX_IMPORT_BYTES's default)."""
ENTITIES = {
    "organization": "Organisationen",
    "service": "Angebote",
    "location": "Orte",
    "service_at_location": "Angebote an Orten",
    "address": "Adressen",
    "phone": "Telefonnummern",
    "contact": "Kontaktpersonen",
    "schedule": "Öffnungszeiten",
    "language": "Sprachen",
    "service_area": "Einzugsgebiete",
    "jurisdiction": "Zuständigkeiten",
    "taxonomy": "Taxonomien",
    "taxonomy_term": "Begriffe",
    "attribute": "Zuordnungen zu Begriffen",
    "cost_option": "Kostenangaben",
    "accessibility": "Barrierefreiheit",
    "required_document": "Unterlagen",
    "funding": "Finanzierung",
    "program": "Programme",
    "organization_identifier": "Kennungen",
}


REASONS = (  # the directory's most common findings, in German; the rest as it says them
    ("is required", "fehlt (Pflichtangabe)"),
    ("is not one of", "ist kein erlaubter Wert"),
    ("is not of type", "hat die falsche Form"),
    ("is not a German PLZ", "ist keine deutsche Postleitzahl"),
    ("appears twice", "kommt doppelt vor"),
)


def german_reason(reason: str) -> str:
    return next((german for english, german in REASONS if english in reason), reason)


@bp.route("/pflege/import", methods=["GET", "POST"])
@login_required
def upload() -> Any:
    user = maintainer()
    if user is None:
        return not_found()
    report: dict[str, Any] | None = None
    problems: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    if request.method == "POST":
        request.max_content_length = MAX_UPLOAD + 100_000  # the form around the file
        sent = request.files.get("datei")
        data = sent.read() if sent else b""
        if not data:
            errors["datei"] = "Wählen Sie eine Datei aus: HSDS als JSON oder ein CSV-Datenpaket als ZIP."
        else:
            try:
                report = api().import_file(token(), data, zipped=data[:2] == b"PK")
            except ApiError as error:
                if error.status == 413:
                    errors["datei"] = "Die Datei ist zu groß: höchstens 50 MB, auch entpackt."
                elif error.status in (400, 415, 422):
                    problems = [
                        {"where": str(e.get("name", "")), "why": german_reason(str(e.get("reason", "")))}
                        for e in error.problem.get("errors", [])
                    ] or [{"where": "", "why": str(error.problem.get("detail", ""))}]
                elif error.status == 403:
                    problems = [{"where": "", "why": str(error.problem.get("detail", ""))}]
                else:
                    raise
    return (
        render_template(
            "maintain_import.html",
            title="Importieren und exportieren",
            user=user,
            report=report,
            problems=problems,
            errors=errors,
            entities=ENTITIES,
        ),
        422 if problems else 400 if errors else 200,
    )


@bp.get("/pflege/export.<kind>")
@login_required
def download(kind: str) -> Any:
    user = maintainer()
    if user is None or kind not in ("json", "zip"):
        return not_found()
    scope = None if user["role"] == "admin" else user["organization_id"]
    data = api().export(token(), "json" if kind == "json" else "csv", scope)
    return Response(
        data,
        mimetype="application/json" if kind == "json" else "application/zip",
        headers={"Content-Disposition": f'attachment; filename="lotse-verzeichnis-hsds.{kind}"'},
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
