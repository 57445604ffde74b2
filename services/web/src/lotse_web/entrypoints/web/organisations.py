"""Organisationen, Orte und Ansprechpersonen: the directory maintainers' pages for the organisations they keep.
An organisation's details; its places, each with its address and phone and who may see them (public, case
managers, or internal); its contact persons with their phone; its offers, and a new one. A place or contact
person with its address and phone is written in one request to the directory (``/changes``), all or nothing,
guarded by the revisions the form was built from: when someone saved in between, nothing is written and the
page shows what is stored now beside the maintainer's input."""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from lotse_contracts import LegalDomain

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.maintain import CHANGED_MEANWHILE, found_entry, maintainer, revision_read
from lotse_web.entrypoints.web.session import UUID, api, login_required, not_found, token

bp = Blueprint("organisations", __name__)


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form: its name (the directory's field where it is one), label, hint, kind (text, email,
    url, tel, area, radio, checks) and choices."""

    name: str
    label: str
    hint: str = ""
    kind: str = "text"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()


VISIBILITY = (
    ("public", "Alle: öffentlich, auch ohne Anmeldung"),
    ("case_managers", "Nur angemeldete Fachkräfte"),
    ("internal", "Nur wer die Organisation im Verzeichnis pflegt (z. B. Schutzwohnungen)"),
)
VISIBLE = ("address_visibility", "visibility", "phone_visibility")
"""A new entry's visibility fields: public until the maintainer says otherwise."""
VISIBILITY_SHORT = {"public": "öffentlich", "case_managers": "nur Fachkräfte", "internal": "intern"}
ORGANISATION = (
    Field("name", "Name der Organisation", required=True),
    Field("alternate_name", "Kurzname", "z. B. „AWO EN“"),
    Field("description", "Beschreibung", "Was die Organisation tut, in einfacher Sprache", "area", True),
    Field("email", "E-Mail", kind="email"),
    Field("website", "Internetseite", "Mit https://", "url"),
    Field(
        "legal_domains",
        "Rechtskreise",
        "Zu welchen Rechtskreisen ihre Angebote gehören",
        "checks",
        choices=tuple((d.value, d.title_de) for d in LegalDomain),
    ),
)
PLACE = (
    Field("name", "Name des Ortes", "z. B. „Beratungsstelle Innenstadt“", required=True),
    Field("address_1", "Straße und Hausnummer", required=True),
    Field("postal_code", "PLZ", required=True),
    Field("city", "Ort", required=True),
    Field("address_visibility", "Wer die Adresse sieht", kind="radio", required=True, choices=VISIBILITY),
    Field("coordinates", "Genaue Lage", "Breite und Länge, z. B. „51.4436, 7.3322“; leer: die Mitte der PLZ"),
    Field("phone", "Telefon", kind="tel"),
    Field("phone_visibility", "Wer die Telefonnummer sieht", kind="radio", choices=VISIBILITY),
)
CONTACT = (
    Field("name", "Name", required=True),
    Field("title", "Funktion", "z. B. „Migrationsberatung“"),
    Field("department", "Abteilung"),
    Field("email", "E-Mail", kind="email"),
    Field("visibility", "Wer die Ansprechperson sieht", kind="radio", required=True, choices=VISIBILITY),
    Field("phone", "Telefon", kind="tel"),
    Field("phone_visibility", "Wer die Telefonnummer sieht", kind="radio", choices=VISIBILITY),
)
OFFER = (
    Field("name", "Name des Angebots", required=True),
    Field("description", "Beschreibung", "Was das Angebot leistet, in einfacher Sprache", "area"),
    Field(
        "legal_domains",
        "Rechtskreise",
        "Danach filtern Fallmanager:innen",
        "checks",
        choices=tuple((d.value, d.title_de) for d in LegalDomain),
    ),
)
REASONS = {
    "required": "Geben Sie {label} ein.",
    "email": "Geben Sie eine E-Mail-Adresse wie beratung@beispiel.de ein.",
    "url": "Geben Sie eine vollständige Adresse ein, die mit https:// beginnt.",
    "tel": "Geben Sie eine Telefonnummer mit Ziffern ein, z. B. 02302 581-0.",
    "choice": "Wählen Sie eine der Möglichkeiten.",
    "postal_code": "Diese Postleitzahl kennen wir nicht. Geben Sie eine fünfstellige deutsche PLZ ein.",
    "coordinates": "Geben Sie Breite und Länge als zwei Zahlen ein, z. B. „51.4436, 7.3322“.",
}
LANDS = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
_TEL = re.compile(r"^\+?[0-9][0-9 ()/-]{3,30}$")


def read(fields: tuple[Field, ...], form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """What a form gives for these fields (empty: None; checks: a list) and what is wrong with it, in German."""
    given: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.kind == "checks":
            allowed = {c for c, _ in f.choices}
            given[f.name] = [v for v in form.getlist(f.name) if v in allowed] or None
            continue
        value = (form.get(f.name) or "").strip()[: 4000 if f.kind == "area" else 300] or None
        given[f.name] = value
        if value is None:
            if f.required:
                errors[f.name] = REASONS["required"].format(label=f.label if f.kind != "radio" else "eine Wahl")
            continue
        if f.kind == "radio" and value not in {c for c, _ in f.choices}:
            errors[f.name] = REASONS["choice"]
        elif f.kind in ("email", "url", "tel") and not {"email": _EMAIL, "url": _URL, "tel": _TEL}[f.kind].match(value):
            errors[f.name] = REASONS[f.kind]
    return given, errors


def _stored(fields: tuple[Field, ...], row: dict[str, Any]) -> dict[str, Any]:
    return {f.name: row.get(f.name) for f in fields}


def _differences(fields: tuple[Field, ...], mine: dict[str, Any], stored: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Where the maintainer's input and what is stored now differ: (label, mine, stored)."""
    return [
        (f.label, mine.get(f.name), stored.get(f.name))
        for f in fields
        if (stored.get(f.name) or None) != mine.get(f.name)
    ]


def _in_german(error: ApiError, names: dict[str, str]) -> dict[str, str]:
    """The directory's refusal (422) by the form's fields: ``names`` maps its field paths to the form's."""
    found = {}
    for path, reason in error.fields.items():
        found[names.get(path, "speichern")] = f"Das passt so nicht: {reason}"
    return found or {"speichern": f"Das passt so nicht: {error.problem.get('detail', '')}"}


def _organisation(ident: str) -> tuple[dict[str, Any], str] | None:
    """An organisation the signed-in maintainer keeps (an admin: any), with its ETag; None when it is not
    theirs or does not exist."""
    if not UUID.fullmatch(ident):
        return None
    user = maintainer()
    if user and user["role"] != "admin" and ident not in {o["id"] for o in api().maintained(token())}:
        return None
    return found_entry("organizations", ident)


def _form_page(template: str, status: int = 200, **values: Any) -> Any:
    values.setdefault("errors", {})
    values.setdefault("conflict", [])
    values.setdefault("visibility", VISIBILITY_SHORT)
    return render_template(template, **values), status


# -- organisations -----------------------------------------------------------------------------------------
@bp.get("/pflege/organisationen")
@login_required
def organisations() -> Any:
    user = maintainer()
    if user is None:
        return not_found()
    words = request.args.get("q", "").strip()[:100]
    kept = api().maintained(token())
    shown = [o for o in kept if words.casefold() in str(o.get("name") or "").casefold()]
    return render_template(
        "organisations.html", title="Organisationen", user=user, organisations=shown, total=len(kept), words=words
    )


@bp.route("/pflege/organisationen/neu", methods=["GET", "POST"])
@login_required
def new_organisation() -> Any:
    user = maintainer()
    if user is None:
        return not_found()
    given: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, errors = read(ORGANISATION, request.form)
        if not errors:
            try:
                made = api().create_entry(token(), "organizations", {k: v for k, v in given.items() if v is not None})
            except ApiError as error:
                if error.status not in (400, 422):
                    raise
                errors = _in_german(error, {f.name: f.name for f in ORGANISATION})
            else:
                flash("Die Organisation ist angelegt. Legen Sie jetzt ihre Orte, Ansprechpersonen und Angebote an.")
                return redirect(url_for(".organisation", ident=made["id"]))
    return _form_page(
        "organisation_new.html",
        400 if errors else 200,
        title="Neue Organisation",
        user=user,
        fields=ORGANISATION,
        given=given,
        errors=errors,
    )


@bp.route("/pflege/organisationen/<ident>", methods=["GET", "POST"])
@login_required
def organisation(ident: str) -> Any:
    """An organisation's details (editable), its places, contact persons and offers."""
    user = maintainer()
    found = _organisation(ident) if user else None
    if user is None or found is None:
        return not_found()
    stored, revision = found
    given = _stored(ORGANISATION, stored)
    errors: dict[str, str] = {}
    conflict: list[tuple[str, Any, Any]] = []
    if request.method == "POST":
        given, errors = read(ORGANISATION, request.form)
        revision = revision_read(request.form.get("revision"))
        if not errors:
            try:
                api().change_entry(token(), "organizations", ident, given, revision)
            except ApiError as error:
                if error.status == 412:
                    stored, revision = api().entry(token(), "organizations", ident)
                    conflict = _differences(ORGANISATION, given, stored)
                elif error.status in (400, 422):
                    errors = _in_german(error, {f.name: f.name for f in ORGANISATION})
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
            else:
                flash("Die Angaben der Organisation sind gespeichert.")
                return redirect(url_for(".organisation", ident=ident))
    parts = api().parts(token(), "organizations", ident)  # at most 200 of each
    places, contacts, offers = parts.get("locations", []), parts.get("contacts", []), parts.get("services", [])
    place_ids = ",".join(p["id"] for p in places)
    addresses = (
        {a["location_id"]: a for a in api().entries(token(), "addresses", location_id=place_ids)} if places else {}
    )
    return _form_page(
        "organisation.html",
        409 if conflict else 400 if errors else 200,
        title=f"Organisation: {stored.get('name')}",
        user=user,
        organisation=stored,
        revision=revision,
        fields=ORGANISATION,
        given=given,
        errors=errors,
        conflict=conflict,
        places=sorted(places, key=lambda p: str(p.get("name") or "")),
        addresses=addresses,
        contacts=sorted(contacts, key=lambda c: str(c.get("name") or "")),
        offers=sorted(offers, key=lambda s: str(s.get("name") or "")),
    )


# -- places and contact persons: an entry with its address and phone, written together ---------------------
@dataclass(frozen=True, slots=True)
class Kind:
    """A place or a contact person: its collection, form, labels, and how its phone points at it."""

    collection: str
    fields: tuple[Field, ...]
    title: str
    new_title: str
    saved: str
    key: str  # the phone's (and address's) reference to the entry


KINDS = {
    "orte": Kind("locations", PLACE, "Ort", "Neuer Ort", "Der Ort ist gespeichert.", "location_id"),
    "kontakte": Kind(
        "contacts",
        CONTACT,
        "Ansprechperson",
        "Neue Ansprechperson",
        "Die Ansprechperson ist gespeichert.",
        "contact_id",
    ),
}


def _children(kind: Kind, ident: str) -> dict[str, tuple[dict[str, Any], str]]:
    """The entry's address (places only) and first phone, each with its ETag."""
    found = {}
    wanted = (
        (("addresses", "address"), ("phones", "phone")) if kind.collection == "locations" else (("phones", "phone"),)
    )
    for collection, name in wanted:
        rows = api().entries(token(), collection, **{kind.key: ident})
        if rows:
            found[name] = api().entry(token(), collection, rows[0]["id"])
    return found


def _shown(kind: Kind, entry: dict[str, Any], children: dict[str, tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """The form's values for what is stored."""
    given = {f.name: entry.get(f.name) for f in kind.fields}
    phone = children.get("phone", ({}, ""))[0]
    given["phone"] = phone.get("number")
    given["phone_visibility"] = phone.get("visibility") or "public"
    if kind.collection == "locations":
        address = children.get("address", ({}, ""))[0]
        for name in ("address_1", "postal_code", "city"):
            given[name] = address.get(name)
        given["address_visibility"] = address.get("visibility") or "public"
        if entry.get("latitude") is not None and entry.get("longitude") is not None:
            given["coordinates"] = f"{entry['latitude']}, {entry['longitude']}"
    return given


def _place_of(given: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """Where a place lies: its coordinates as given or the middle of its PLZ, and its Land (from the
    gazetteer); an unknown PLZ or unreadable coordinates are said in ``errors``."""
    code = given.get("postal_code") or ""
    found = api().geocode(token(), f"{code} {given.get('city') or ''}".strip()) if re.fullmatch(r"\d{5}", code) else []
    if code and not found:
        errors["postal_code"] = REASONS["postal_code"]
        return {}
    if not found:
        return {}
    where = {"latitude": found[0]["latitude"], "longitude": found[0]["longitude"]}
    if given.get("coordinates"):
        parts = [p.strip() for p in str(given["coordinates"]).replace(";", ",").split(",")]
        try:
            lat, lon = (float(p) for p in parts)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(given["coordinates"])
            where = {"latitude": lat, "longitude": lon}
        except ValueError:
            errors["coordinates"] = REASONS["coordinates"]
    where["state_province"] = LANDS.get(str(found[0].get("ags") or found[0].get("kreis_key") or "")[:2], "")
    return where


def _changes(
    kind: Kind,
    org: str,
    ident: str,
    given: dict[str, Any],
    place: dict[str, Any],
    revisions: dict[str, str],
    children: dict[str, tuple[dict[str, Any], str]],
) -> list[dict[str, Any]]:
    """What the directory is asked to do, in one transaction: the entry, its address (places), its phone."""
    new = not revisions.get("entry")
    if kind.collection == "locations":
        body: dict[str, Any] = {
            "name": given["name"],
            "location_type": "physical",
            "latitude": place.get("latitude"),
            "longitude": place.get("longitude"),
        }
    else:
        body = {k: given[k] for k in ("name", "title", "department", "email", "visibility")}
    if new:
        body["organization_id"] = org
    changes = [
        {"op": "create", "collection": kind.collection, "id": ident, "body": body}
        if new
        else {"op": "update", "collection": kind.collection, "id": ident, "if_match": revisions["entry"], "body": body}
    ]
    if kind.collection == "locations":
        address = {
            "address_1": given["address_1"],
            "postal_code": given["postal_code"],
            "city": given["city"],
            "state_province": place.get("state_province") or "",
            "country": "DE",
            "address_type": "physical",
            "visibility": given["address_visibility"],
        }
        changes.append(_child("addresses", children.get("address"), revisions.get("address"), kind.key, ident, address))
    phone = {"number": given["phone"], "type": "voice", "visibility": given.get("phone_visibility") or "public"}
    if given.get("phone"):
        changes.append(_child("phones", children.get("phone"), revisions.get("phone"), kind.key, ident, phone))
    elif children.get("phone"):
        stored = children["phone"][0]
        changes.append(
            {"op": "delete", "collection": "phones", "id": stored["id"], "if_match": revisions.get("phone") or '"0"'}
        )
    return changes


def _child(
    collection: str,
    stored: tuple[dict[str, Any], str] | None,
    revision: str | None,
    key: str,
    parent: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    if stored is None:
        return {"op": "create", "collection": collection, "id": str(uuid.uuid4()), "body": {**body, key: parent}}
    return {
        "op": "update",
        "collection": collection,
        "id": stored[0]["id"],
        "if_match": revision or '"0"',
        "body": body,
    }


def _error_names(kind: Kind, changes: list[dict[str, Any]]) -> dict[str, str]:
    """The directory's field paths (``changes.1.postal_code``) by the form's field names."""
    names: dict[str, str] = {}
    for i, change in enumerate(changes):
        for f in kind.fields:
            field = f.name
            if change["collection"] == "phones":
                field = {"phone": "number", "phone_visibility": "visibility"}.get(f.name, "")
            elif change["collection"] == "addresses":
                field = {"address_visibility": "visibility"}.get(f.name, f.name)
            if field:
                names.setdefault(f"changes.{i}.{field}", f.name)
    return names


@bp.route("/pflege/organisationen/<org>/<kind_name>/neu", methods=["GET", "POST"])
@bp.route("/pflege/organisationen/<org>/<kind_name>/<ident>", methods=["GET", "POST"])
@login_required
def entry(org: str, kind_name: str, ident: str | None = None) -> Any:
    """A place with its address and phone, or a contact person with their phone: new or changed."""
    user = maintainer()
    kind = KINDS.get(kind_name)
    found = _organisation(org) if user and kind else None
    if user is None or kind is None or found is None or (ident is not None and not UUID.fullmatch(ident)):
        return not_found()
    organisation = found[0]
    stored: dict[str, Any] = {}
    children: dict[str, tuple[dict[str, Any], str]] = {}
    revisions: dict[str, str] = {}
    if ident is not None:
        this = found_entry(kind.collection, ident)
        if this is None or this[0].get("organization_id") != org:
            return not_found()
        stored, revisions["entry"] = this
        children = _children(kind, ident)
        revisions |= {name: etag for name, (_, etag) in children.items()}
    given = _shown(kind, stored, children) if ident else dict.fromkeys(VISIBLE, "public")
    errors: dict[str, str] = {}
    conflict: list[tuple[str, Any, Any]] = []
    if request.method == "POST":
        given, errors = read(kind.fields, request.form)
        read_revisions = {k: revision_read(request.form.get(f"revision_{k}")) for k in ("entry", "address", "phone")}
        place = _place_of(given, errors) if kind.collection == "locations" else {}
        if not errors:
            new_id = ident or str(uuid.uuid4())
            planned = _changes(kind, org, new_id, given, place, read_revisions if ident else {}, children)
            try:
                api().apply(token(), planned)
            except ApiError as error:
                if error.status == 412 and ident:  # someone saved in between: nothing was written
                    stored, revisions["entry"] = api().entry(token(), kind.collection, ident)
                    children = _children(kind, ident)
                    revisions |= {name: etag for name, (_, etag) in children.items()}
                    conflict = _differences(kind.fields, given, _shown(kind, stored, children))
                elif error.status in (400, 422):
                    errors = _in_german(error, _error_names(kind, planned))
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
            else:
                flash(kind.saved)
                return redirect(url_for(".organisation", ident=org) + f"#{kind_name}")
    return _form_page(
        "organisation_entry.html",
        409 if conflict else 400 if errors else 200,
        title=f"{kind.title}: {stored.get('name')}" if ident else kind.new_title,
        user=user,
        organisation=organisation,
        kind=kind,
        kind_name=kind_name,
        entry=stored,
        revisions=revisions,
        fields=kind.fields,
        given=given,
        errors=errors,
        conflict=conflict,
    )


@bp.post("/pflege/organisationen/<org>/<kind_name>/<ident>/entfernen")
@login_required
def remove(org: str, kind_name: str, ident: str) -> Any:
    """A place or contact person removed, with its address and phones (an offer at a removed place no longer
    names it)."""
    kind = KINDS.get(kind_name)
    if maintainer() is None or kind is None or not UUID.fullmatch(ident) or _organisation(org) is None:
        return not_found()
    try:
        stored, _ = api().entry(token(), kind.collection, ident)
        if stored.get("organization_id") != org:
            return not_found()
        api().remove_entry(token(), kind.collection, ident)
    except ApiError as error:
        if error.status == 404:
            return not_found()
        if error.status not in (409, 412):
            raise
        flash(CHANGED_MEANWHILE)
        return redirect(url_for(".organisation", ident=org))
    flash(f"{kind.title} „{stored.get('name')}“ ist entfernt.")
    return redirect(url_for(".organisation", ident=org) + f"#{kind_name}")


# -- a new offer -------------------------------------------------------------------------------------------
@bp.route("/pflege/organisationen/<org>/angebote/neu", methods=["GET", "POST"])
@login_required
def new_offer(org: str) -> Any:
    """A new offer of the organisation at some of its places, in one request; its details, hours, topics and
    languages are then edited on its own pages."""
    user = maintainer()
    found = _organisation(org) if user else None
    if user is None or found is None:
        return not_found()
    places = sorted(api().entries(token(), "locations", organization_id=org), key=lambda p: str(p.get("name") or ""))
    given: dict[str, Any] = {"orte": []}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, errors = read(OFFER, request.form)
        given["orte"] = [p["id"] for p in places if p["id"] in request.form.getlist("orte")]
        if not errors:
            offer = str(uuid.uuid4())
            body = {k: v for k, v in given.items() if k != "orte" and v is not None}
            planned = [
                {
                    "op": "create",
                    "collection": "services",
                    "id": offer,
                    "body": {**body, "organization_id": org, "status": "active"},
                },
                *(
                    {
                        "op": "create",
                        "collection": "service_at_locations",
                        "body": {"id": str(uuid.uuid4()), "service_id": offer, "location_id": p},
                    }
                    for p in given["orte"]
                ),
            ]
            try:
                api().apply(token(), planned)
            except ApiError as error:
                if error.status not in (400, 422):
                    raise
                errors = _in_german(error, {f"changes.0.{f.name}": f.name for f in OFFER})
            else:
                flash("Das Angebot ist angelegt. Tragen Sie jetzt seine Öffnungszeiten, Themen und Sprachen ein.")
                return redirect(url_for("maintain.offer", ident=offer))
    return _form_page(
        "organisation_offer.html",
        400 if errors else 200,
        title="Neues Angebot",
        user=user,
        organisation=found[0],
        fields=OFFER,
        places=places,
        given=given,
        errors=errors,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
