"""Einordnung eines Angebots: its topics and target groups (terms of the directory's taxonomies), the languages
it is given in, and the places where it is given; what case managers filter the search by. Saved in one
request to the directory (``/changes``), guarded by the offer's revision: a change of these is a change of
the offer (its ``last_modified``), so two maintainers editing them at once conflict instead of mixing."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pycountry
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError, together
from lotse_web.entrypoints.web.maintain import found_entry, maintainer, revision_read
from lotse_web.entrypoints.web.search import language_name
from lotse_web.entrypoints.web.session import UUID, api, login_required, not_found, token

bp = Blueprint("topics", __name__)
COMMON_LANGUAGES = (
    "de", "en", "ar", "tr", "ru", "uk", "fa", "prs", "ps", "ku", "ti", "so", "fr", "es", "it", "pl", "ro", "bg",
    "sq", "sr", "hr", "bs", "el", "vi", "zh", "ur", "ta", "am",
)  # fmt: skip
"""Offered as checkboxes: the languages most asked for in migration counselling in NRW."""


def link_type(taxonomy_name: str) -> str:
    """How an offer is linked to a term of this taxonomy: a taxonomy of target groups (its name says
    "Zielgruppe") gives target groups, every other one topics."""
    return "target_group" if "zielgruppe" in taxonomy_name.casefold() else "topic"


def _language(code_or_name: str) -> str | None:
    """An ISO 639 code (two or three letters) for what the maintainer typed: a code, or an English name."""
    text = code_or_name.strip()
    if not text:
        return None
    found = None
    if re.fullmatch(r"[A-Za-z]{2}", text):
        found = pycountry.languages.get(alpha_2=text.lower())
    elif re.fullmatch(r"[A-Za-z]{3}", text):
        found = pycountry.languages.get(alpha_3=text.lower())
    if found is None:
        try:
            found = pycountry.languages.lookup(text)
        except LookupError:
            return None
    return str(getattr(found, "alpha_2", None) or found.alpha_3)


_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


def _alphabetical(text: str) -> str:
    """A sort key in German dictionary order (Ä with A)."""
    return text.casefold().translate(_UMLAUTS)


def _now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@bp.route("/pflege/angebote/<ident>/einordnung", methods=["GET", "POST"])
@login_required
def page(ident: str) -> Any:
    user = maintainer()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    found = found_entry("services", ident)
    if found is None:
        return not_found()
    offer, revision = found
    client, bearer = api(), token()
    found_taxonomies, found_terms, parts, found_places = together(
        partial(client.entries, bearer, "taxonomies"),
        partial(client.entries, bearer, "taxonomy_terms"),
        partial(client.parts, bearer, "services", ident),
        partial(client.entries, bearer, "locations", organization_id=str(offer.get("organization_id") or "")),
    )
    attributes, languages, links = (parts.get(c, []) for c in ("attributes", "languages", "service_at_locations"))
    taxonomies = {t["id"]: str(t.get("name") or "") for t in found_taxonomies}
    terms = sorted(found_terms, key=lambda t: _alphabetical(str(t.get("name") or "")))
    groups: dict[str, list[dict[str, Any]]] = {}
    for term in terms:
        groups.setdefault(taxonomies.get(str(term.get("taxonomy_id")), "Weitere Begriffe"), []).append(term)
    places = sorted(found_places, key=lambda p: str(p.get("name") or ""))
    chosen = {
        "begriffe": {str(a["taxonomy_term_id"]) for a in attributes if a.get("taxonomy_term_id")},
        "sprachen": {str(lang["code"]) for lang in languages if lang.get("code")},
        "orte": {str(link["location_id"]) for link in links if link.get("location_id")},
    }
    errors: dict[str, str] = {}
    conflict = False
    if request.method == "POST":
        known_terms = {str(t["id"]): t for t in terms}
        wanted = {
            "begriffe": {t for t in request.form.getlist("begriffe") if t in known_terms},
            "sprachen": {c for c in request.form.getlist("sprachen") if _language(c)},
            "orte": {p for p in request.form.getlist("orte") if p in {str(x["id"]) for x in places}},
        }
        more = request.form.get("weitere_sprache", "").strip()[:60]
        if more:
            code = _language(more)
            if code is None:
                errors["weitere_sprache"] = (
                    "Diese Sprache kennen wir nicht. Geben Sie den Sprachcode ein, z. B. „ha“ für Hausa."
                )
            else:
                wanted["sprachen"].add(code)
        if not errors:
            kinds = {str(t["id"]): link_type(taxonomies.get(str(t.get("taxonomy_id")), "")) for t in terms}
            planned = [
                {
                    "op": "update",
                    "collection": "services",
                    "id": ident,
                    "if_match": revision_read(request.form.get("revision")),
                    "body": {"last_modified": _now_stamp()},
                },
                *_swapped(
                    "attributes",
                    attributes,
                    "taxonomy_term_id",
                    wanted["begriffe"],
                    lambda t: {
                        "link_id": ident,
                        "link_entity": "service",
                        "link_type": kinds[t],
                        "taxonomy_term_id": t,
                        "value": str(known_terms[t].get("name") or ""),
                    },
                ),
                *_swapped(
                    "languages",
                    languages,
                    "code",
                    wanted["sprachen"],
                    lambda c: {"service_id": ident, "code": c, "name": language_name(c)},
                ),
                *_swapped(
                    "service_at_locations",
                    links,
                    "location_id",
                    wanted["orte"],
                    lambda p: {"service_id": ident, "location_id": p},
                ),
            ]
            try:
                api().apply(token(), planned)
            except ApiError as error:
                if error.status == 412:
                    conflict = True
                    offer, revision = api().entry(token(), "services", ident)
                elif error.status in (400, 422):
                    errors["begriffe"] = "Das passt so nicht: " + "; ".join(error.fields.values())
                elif error.status in (403, 404):
                    return not_found()
                else:
                    raise
            else:
                flash("Themen, Zielgruppen, Sprachen und Orte sind gespeichert. Die Suche filtert ab sofort danach.")
                return redirect(url_for(".page", ident=ident))
        if errors or conflict:
            chosen = wanted
    codes = sorted({*COMMON_LANGUAGES, *chosen["sprachen"]}, key=lambda c: (c != "de", _alphabetical(language_name(c))))
    return (
        render_template(
            "maintain_topics.html",
            title=f"Einordnung: {offer.get('name')}",
            user=user,
            offer=offer,
            revision=revision,
            groups=sorted(groups.items()),
            languages=[(c, language_name(c)) for c in codes],
            places=places,
            chosen=chosen,
            errors=errors,
            conflict=conflict,
            given={"weitere_sprache": request.form.get("weitere_sprache", "")},
        ),
        409 if conflict else 400 if errors else 200,
    )


def _swapped(
    collection: str, rows: list[dict[str, Any]], key: str, wanted: set[str], body: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The changes that make ``rows`` (the offer's, by ``key``) the ``wanted`` ones: a deletion for each row no
    longer wanted (its revision does not matter: the offer's guards them all), a creation for each new one."""
    have = {str(r.get(key)) for r in rows}
    return [
        *(
            {"op": "delete", "collection": collection, "id": r["id"], "if_match": "*"}
            for r in rows
            if str(r.get(key)) not in wanted
        ),
        *(
            {"op": "create", "collection": collection, "body": {"id": str(uuid.uuid4()), **body(v)}}
            for v in sorted(wanted - have)
        ),
    ]


def register(app: Flask) -> None:
    app.register_blueprint(bp)
