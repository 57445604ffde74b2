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
from lotse_web.entrypoints.web.maintain import click_refused, found_entry, history, maintainer, revision_read
from lotse_web.entrypoints.web.session import UUID, api, login_required, not_found, token

bp = Blueprint("all_fields", __name__)
COLLECTIONS = {
    "organizations": ("organization", "Organisation"),
    "services": ("service", "Angebot"),
    "locations": ("location", "Ort"),
    "contacts": ("contact", "Ansprechperson"),
    "addresses": ("address", "Adresse"),
    "phones": ("phone", "Telefonnummer"),
    "programs": ("program", "Programm"),
    "funding": ("funding", "Finanzierung"),
    "organization_identifiers": ("organization_identifier", "Kennung"),
    "required_documents": ("required_document", "Mitzubringende Unterlage"),
    "service_areas": ("service_area", "Einzugsgebiet"),
    "cost_options": ("cost_option", "Kostenangabe"),
    "accessibility": ("accessibility", "Barrierefreiheit"),
}
CHILDREN = {  # the entries of their own an entry has, by the field that points at it
    "organizations": (
        ("programs", "organization_id"),
        ("funding", "organization_id"),
        ("organization_identifiers", "organization_id"),
        ("phones", "organization_id"),
    ),
    "services": (
        ("required_documents", "service_id"),
        ("service_areas", "service_id"),
        ("cost_options", "service_id"),
        ("funding", "service_id"),
        ("contacts", "service_id"),
        ("phones", "service_id"),
    ),
    "locations": (("accessibility", "location_id"), ("phones", "location_id")),
}
REMOVABLE = {*COLLECTIONS} - {"organizations", "locations", "contacts", "addresses"}
"""What this page deletes; an organisation is deleted by an admin, places and contact persons on their pages."""
NAMED_BY = ("name", "document", "identifier", "number", "service_area", "source", "description", "option", "extent")
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
                    errors = _refused(error)
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
            children=_children(collection, ident),
            removable=collection in REMOVABLE,
        ),
        409 if conflict else 400 if errors else 200,
    )


def _refused(error: ApiError) -> dict[str, str]:
    """What the directory refused (422), by field name."""
    return {re.sub(r"^/?", "", k): f"Das passt so nicht: {v}" for k, v in error.fields.items()}


def _title(row: dict[str, Any]) -> str:
    return next((str(row[k]) for k in NAMED_BY if row.get(k)), str(row["id"]))


def _children(collection: str, ident: str) -> list[dict[str, Any]]:
    """The entries of their own this one has (an offer's required documents, an organisation's programmes …)."""
    wanted = CHILDREN.get(collection, ())
    parts = api().parts(token(), collection, ident) if wanted else {}
    return [
        {
            "collection": child,
            "key": key,
            "kind": COLLECTIONS[child][1],
            "rows": sorted((r["id"], _title(r)) for r in parts.get(child, []) if r.get(key) == ident),
        }
        for child, key in wanted
    ]


def _parent_of(collection: str, row: dict[str, Any]) -> tuple[str, str] | None:
    """The entry this one belongs to on these pages (collection, id)."""
    if collection == "services":
        return "organizations", str(row.get("organization_id"))
    for parent, children in CHILDREN.items():
        for child, key in children:
            if child == collection and row.get(key):
                return parent, str(row[key])
    return None


@bp.route("/pflege/alle-angaben/<collection>/neu", methods=["GET", "POST"])
@login_required
def new(collection: str) -> Any:
    """A new entry of its own for an entry (``feld``: the field that points at it, ``zu``: its id)."""
    user = maintainer()
    key, parent = request.values.get("feld", ""), request.values.get("zu", "")
    owners = {p for p, children in CHILDREN.items() for c, k in children if c == collection and k == key}
    if user is None or not owners or not UUID.fullmatch(parent):
        return not_found()
    entity, kind = COLLECTIONS[collection]
    fields = fields_of(entity)
    required = set(_schemas()[entity].get("required") or ())
    given = {f["name"]: "" for f in fields}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, values, errors = _read(fields, {})
        errors |= {
            f["name"]: "Diese Angabe ist nötig." for f in fields if f["name"] in required and not given[f["name"]]
        }
        if not errors:
            try:
                made = api().create_entry(token(), collection, {**values, key: parent})
            except ApiError as error:
                if error.status in (403, 404):
                    return not_found()
                if error.status not in (400, 422):
                    raise
                errors = _refused(error)
            else:
                flash(f"{kind} ist angelegt.")
                return redirect(url_for(".page", collection=collection, ident=made["id"]))
    return (
        render_template(
            "all_fields_new.html",
            title=f"Neu: {kind}",
            user=user,
            kind=kind,
            collection=collection,
            parent=(next(iter(owners)), parent),
            key=key,
            fields=fields,
            required=required,
            given=given,
            errors=errors,
        ),
        400 if errors else 200,
    )


@bp.post("/pflege/alle-angaben/<collection>/<ident>/entfernen")
@login_required
def remove(collection: str, ident: str) -> Any:
    if maintainer() is None or collection not in REMOVABLE or not UUID.fullmatch(ident):
        return not_found()
    found = found_entry(collection, ident)
    if found is None:
        return not_found()
    try:
        api().remove_entry(token(), collection, ident)
    except ApiError as error:
        return click_refused(error, url_for(".page", collection=collection, ident=ident))
    flash(f"{COLLECTIONS[collection][1]} „{_title(found[0])}“ ist gelöscht.")
    parent = _parent_of(collection, found[0])
    if parent is None:
        return redirect(url_for("maintain.overview"))
    if parent[0] == "organizations":
        return redirect(url_for("organisations.organisation", ident=parent[1]))
    return redirect(url_for(".page", collection=parent[0], ident=parent[1]))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
