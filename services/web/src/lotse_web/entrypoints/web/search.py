"""Angebote suchen: words, place and radius, filters with their counts, pages; the URL keeps the search so that
it can be bookmarked or sent to a colleague (it holds a need and a place, never a client's name)."""

import gettext
from functools import cache
from typing import Any

import pycountry
from flask import Blueprint, Flask, render_template, request
from lotse_contracts import LegalDomain

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web import local_time
from lotse_web.entrypoints.web.referrals import german_date
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, partial, token

bp = Blueprint("search", __name__)
PER_PAGE = 20
RADII = (5, 10, 25, 50)
FILTERS = {"rechtskreis": "legal_domain", "sprache": "language", "thema": "topic", "zielgruppe": "target_group"}
"""The page's parameters (German, as the address bar shows them) and the search API's."""
FIELD_OF = {"q": "q", "near": "ort", "radius_km": "umkreis", "page": "seite", **{v: k for k, v in FILTERS.items()}}


@cache
def _languages_de() -> gettext.NullTranslations:
    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["de"], fallback=True)


def language_name(code: str) -> str:
    """A language's German name (ISO 639), e.g. ``ar`` → Arabisch."""
    found = pycountry.languages.get(alpha_2=code) or pycountry.languages.get(alpha_3=code)
    return _languages_de().gettext(found.name) if found else code


def domain_name(code: str) -> str:
    try:
        domain = LegalDomain(code)
    except ValueError:
        return code
    return f"{domain.title_de} ({domain.authority_de})"


@bp.get("/angebote")
@login_required
def offers() -> Any:
    args = request.args
    given = {
        "q": args.get("q", "").strip(),
        "ort": args.get("ort", "").strip(),
        "umkreis": args.get("umkreis", "10"),
        "jetzt_offen": args.get("jetzt_offen") == "1",
        **{name: args.getlist(name) for name in FILTERS},
    }
    page_number = args.get("seite", "1")
    errors: dict[str, str] = {}
    result = None
    searched = any(given[k] for k in ("q", "ort", *FILTERS)) or "suchen" in args
    if given["umkreis"] not in {str(r) for r in RADII}:
        errors["umkreis"] = "Wählen Sie einen Umkreis aus der Liste."
    if not page_number.isdigit() or not 1 <= int(page_number) <= 500:
        page_number = "1"
    if searched and not errors:
        query: dict[str, Any] = {
            "q": given["q"],
            "page": page_number,
            "per_page": PER_PAGE,
            **{api_name: given[name] for name, api_name in FILTERS.items()},
        }
        if given["ort"]:
            query |= {"near": given["ort"], "radius_km": given["umkreis"]}
        if given["jetzt_offen"]:
            query["open_now"] = "true"
        try:
            result = api().search(token(), query)
        except ApiError as error:
            if error.status in (400, 422):
                for name, reason in error.fields.items():
                    errors[FIELD_OF.get(name, "q")] = _german(name, reason, given)
            else:
                errors["q"] = "Die Suche ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."
    status = 400 if errors else 200
    return (
        render_template(
            "_search.html" if partial() else "search.html",
            partial=partial(),
            title="Angebote suchen",
            user=current_user(),
            given=given,
            errors=errors,
            result=result,
            radii=RADII,
            filters=FILTERS,
            page_args=_page_args,
        ),
        status,
    )


DAYS = {"MO": "Mo", "TU": "Di", "WE": "Mi", "TH": "Do", "FR": "Fr", "SA": "Sa", "SU": "So"}


def opening_hours(schedule: dict[str, Any]) -> str:
    """One schedule in German, e.g. Mo, Di 08:00 bis 12:00 with an en dash, then (nach Vereinbarung); a
    temporary closure with its days and reason."""
    if schedule.get("closed") and schedule.get("valid_from") and schedule.get("valid_to"):
        why = f" ({schedule['description']})" if schedule.get("description") else ""
        first, last = german_date(schedule["valid_from"][:10]), german_date(schedule["valid_to"][:10])
        return f"Vorübergehend geschlossen vom {first} bis {last}{why}"
    days = ", ".join(DAYS.get(d, d) for d in (schedule.get("byday") or "").split(",") if d)
    hours = f"{schedule.get('opens_at', '')}–{schedule.get('closes_at', '')}" if schedule.get("opens_at") else ""
    notes = [text for flag, text in (("by_appointment", "nach Vereinbarung"),) if schedule.get(flag)]
    line = " ".join(part for part in (days, hours) if part) or (schedule.get("description") or "")
    return line + (f" ({', '.join(notes)})" if notes else "")


def published_offer(ident: str) -> dict[str, Any] | None:
    """The offer as the directory publishes it, closures that are over left out (they say nothing any more);
    None for no offer (or no offer id)."""
    if not UUID.fullmatch(ident):
        return None
    try:
        found = api().offer(ident)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    today = local_time.today().isoformat()
    found["schedules"] = [
        s for s in found.get("schedules") or [] if not (s.get("closed") and str(s.get("valid_to"))[:10] < today)
    ]
    return found


@bp.get("/oeffentlich/angebote/<ident>")
def public_offer(ident: str) -> Any:
    """An offer as anyone may see it, without signing in (what the directory publishes): where a client's
    Merkliste's QR code leads."""
    found = published_offer(ident)
    if found is None:
        return not_found()
    return render_template(
        "offer_public.html", title=found["name"], user=current_user(), offer=found, opening_hours=opening_hours
    )


@bp.get("/angebote/<ident>")
@login_required
def offer(ident: str) -> Any:
    """An offer with everything a client needs: where, when, in which languages, what it costs, how to apply."""
    found = published_offer(ident)
    if found is None:
        return not_found()
    try:
        staff = api().for_staff(token(), found)
    except ApiError:  # the public page all the same
        staff = None
    return render_template(
        "offer.html",
        title=found["name"],
        user=current_user(),
        offer=found,
        staff=staff,
        opening_hours=opening_hours,
    )


def _german(name: str, reason: str, given: dict[str, Any]) -> str:
    if name == "near":
        return (
            f"Den Ort „{given['ort']}“ kennen wir nicht. Geben Sie eine Postleitzahl, „PLZ Ort“ oder eine Adresse ein."
        )
    if name == "q":
        return "Der Suchbegriff ist zu lang oder enthält Zeichen, die wir nicht annehmen."
    return f"Bitte prüfen Sie die Eingabe ({reason})."


def _page_args(page: int) -> dict[str, Any]:
    """The current search's parameters with another page."""
    found = request.args.to_dict(flat=False)
    found["seite"] = [str(page)]
    return found


def register(app: Flask) -> None:
    for helper in (language_name, domain_name):
        app.add_template_global(helper)
    app.register_blueprint(bp)
