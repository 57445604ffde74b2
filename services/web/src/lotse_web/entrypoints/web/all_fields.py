"""Alle Angaben: every field of a directory entry the maintainers' other pages do not ask for (HSDS has many:
accreditations, licences, alerts, transportation, tax status …), in one form made from the directory's own
schema, with the entry's history. Only the fields the maintainer changed are sent, guarded by the revision the
form was built from; a save made meanwhile is shown beside the input and nothing is overwritten."""

import json
import re
from functools import cache
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.maintain import found_entry, history, maintainer, revision_read
from lotse_web.entrypoints.web.session import UUID, api, login_required, not_found, token

bp = Blueprint("all_fields", __name__)
COLLECTIONS = {
    "organizations": ("organization", "Organisation"),
    "services": ("service", "Angebot"),
    "locations": ("location", "Ort"),
    "contacts": ("contact", "Ansprechperson"),
    "addresses": ("address", "Adresse"),
    "phones": ("phone", "Telefonnummer"),
}
SET_ELSEWHERE = {"id", "verified_at", "verified_by", "demo", "last_modified", "authority_for"}
"""Fields the directory sets itself, or the admins' pages do."""
LONG = {"description", "transportation", "alert", "application_process", "eligibility_description", "accreditations"}


@cache
def _schemas() -> dict[str, Any]:
    """The directory's entry schemas (from its OpenAPI document), read once per process."""
    return api().directory_schemas()


def fields_of(entity: str) -> list[dict[str, Any]]:
    """The entry's fields this form edits: scalar, not set by the directory, not a reference to another entry."""
    props = _schemas()[f"{entity}_patch"]["properties"]
    found = []
    for name, prop in props.items():
        shape = (prop.get("anyOf") or [prop])[0]
        kind = shape.get("type")
        if name in SET_ELSEWHERE or name.endswith("_id") or kind not in ("string", "number", "integer", "boolean"):
            continue
        if shape.get("readOnly"):
            continue
        found.append(
            {
                "name": name,
                "kind": "choice" if shape.get("enum") else "area" if name in LONG else kind,
                "format": shape.get("format"),
                "choices": shape.get("enum") or [],
                "hint": prop.get("description") or shape.get("description") or "",
            }
        )
    return found


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read(
    fields: list[dict[str, Any]], stored: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """What the form gives, the patch of what changed (typed), and what is wrong, by field name."""
    given = {f["name"]: request.form.get(f["name"], "").strip()[:4000] for f in fields}
    patch: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        name, text = f["name"], given[f["name"]]
        if text == _shown(stored.get(name)):
            continue
        value: Any = text or None
        if text and f["kind"] in ("number", "integer"):
            try:
                value = int(text) if f["kind"] == "integer" else float(text.replace(",", "."))
            except ValueError:
                errors[name] = "Geben Sie eine Zahl ein."
                continue
        elif text and f["kind"] == "boolean":
            value = text == "ja"
        elif text and f["kind"] == "choice" and text not in f["choices"]:
            errors[name] = "Wählen Sie einen Wert aus der Liste."
            continue
        patch[name] = value
    return given, patch, errors


@bp.route("/pflege/alle-angaben/<collection>/<ident>", methods=["GET", "POST"])
@login_required
def page(collection: str, ident: str) -> Any:
    user = maintainer()
    if user is None or collection not in COLLECTIONS or not UUID.fullmatch(ident):
        return not_found()
    entity, kind = COLLECTIONS[collection]
    found = found_entry(collection, ident)
    if found is None:
        return not_found()
    stored, revision = found
    fields = fields_of(entity)
    given = {f["name"]: _shown(stored.get(f["name"])) for f in fields}
    errors: dict[str, str] = {}
    conflict: list[tuple[str, Any, Any]] = []
    if request.method == "POST":
        revision = revision_read(request.form.get("revision"))
        before = json.loads(request.form.get("gelesen") or "{}")  # the values the form was built from
        given, patch, errors = _read(fields, {k: before.get(k) for k in given})
        if not errors and patch:
            try:
                api().change_entry(token(), collection, ident, patch, revision)
            except ApiError as error:
                if error.status == 412:
                    stored, revision = api().entry(token(), collection, ident)
                    conflict = [(k, v, stored.get(k)) for k, v in patch.items() if _shown(stored.get(k)) != _shown(v)]
                elif error.status in (400, 422):
                    errors = {re.sub(r"^/?", "", k): f"Das passt so nicht: {v}" for k, v in error.fields.items()}
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
            else:
                flash("Die Angaben sind gespeichert.")
                return redirect(url_for(".page", collection=collection, ident=ident))
        elif not errors:
            flash("Sie haben nichts geändert.")
            return redirect(url_for(".page", collection=collection, ident=ident))
    return (
        render_template(
            "all_fields.html",
            title=f"Alle Angaben: {stored.get('name') or kind}",
            user=user,
            entry=stored,
            kind=kind,
            collection=collection,
            fields=fields,
            given=given,
            read=json.dumps({f["name"]: stored.get(f["name"]) for f in fields}, ensure_ascii=False),
            revision=revision,
            errors=errors,
            conflict=conflict,
            history=history(collection, ident, user["id"]),
        ),
        409 if conflict else 400 if errors else 200,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
