"""Die Merkliste: offers a case manager collects during a search, for the client to take home. Kept in the
case manager's session (ids only), shown with what the client needs of each offer (where, when, how to get
there, in which languages, whom to contact), printed or downloaded as PDF; its headings in the client's
language beside the German ones."""

import logging
from pathlib import Path
from typing import Any

import segno
from flask import Blueprint, Flask, Response, current_app, flash, redirect, render_template, request, session, url_for

from lotse_web.adapters import pdf as pdf_files
from lotse_web.entrypoints.web.local_time import today
from lotse_web.entrypoints.web.search import opening_hours, published_offer
from lotse_web.entrypoints.web.session import (
    UUID,
    current_user,
    login_required,
    not_found,
    only_for,
    safe_next,
    settings,
)

bp = Blueprint("merkliste", __name__)
log = logging.getLogger(__name__)
KEY = "merkliste"
LIMIT = 30
"""At most this many offers on one list (it lives in the session cookie)."""

LANGUAGES = {
    "en": ("English", "ltr"),
    "ar": ("العربية", "rtl"),
    "uk": ("Українська", "ltr"),
    "tr": ("Türkçe", "ltr"),
    "fa": ("فارسی", "rtl"),
    "ru": ("Русский", "ltr"),
}
"""The languages the list's headings are translated into: name in the language itself, writing direction."""
HEADINGS: dict[str, dict[str, str]] = {
    "title": {
        "de": "Angebote für Sie",
        "en": "Offers for you",
        "ar": "عروض لك",
        "uk": "Пропозиції для вас",
        "tr": "Sizin için hizmetler",
        "fa": "خدمات برای شما",
        "ru": "Предложения для вас",
    },
    "where": {"de": "Wo?", "en": "Where?", "ar": "أين؟", "uk": "Де?", "tr": "Nerede?", "fa": "کجا؟", "ru": "Где?"},
    "when": {
        "de": "Wann geöffnet?",
        "en": "Opening hours",
        "ar": "أوقات العمل",
        "uk": "Години роботи",
        "tr": "Çalışma saatleri",
        "fa": "ساعات کاری",
        "ru": "Часы работы",
    },
    "way": {
        "de": "So kommen Sie hin",
        "en": "How to get there",
        "ar": "كيف تصل إلى هناك",
        "uk": "Як дістатися",
        "tr": "Nasıl gidilir",
        "fa": "چگونه به آنجا بروید",
        "ru": "Как добраться",
    },
    "languages": {
        "de": "Sprachen",
        "en": "Languages spoken",
        "ar": "اللغات",
        "uk": "Мови",
        "tr": "Konuşulan diller",
        "fa": "زبان‌ها",
        "ru": "Языки",
    },
    "contact": {
        "de": "Kontakt",
        "en": "Contact",
        "ar": "التواصل",
        "uk": "Контакти",
        "tr": "İletişim",
        "fa": "تماس",
        "ru": "Контакты",
    },
}


only_for(bp, "case_manager")  # only case managers keep a list


def _kept() -> list[str]:
    return [i for i in session.get(KEY, []) if isinstance(i, str) and UUID.fullmatch(i)]


def _back() -> str:
    """Where to go after a change: a path of this site the form names, else the list."""
    return safe_next(request.form.get("zurueck"), url_for(".page"))


@bp.post("/merkliste")
@login_required
def add() -> Any:
    ident = request.form.get("angebot", "")
    if not UUID.fullmatch(ident):
        return not_found()
    kept = _kept()
    if ident not in kept:
        if len(kept) >= LIMIT:
            flash(f"Die Merkliste hat schon {LIMIT} Angebote. Entfernen Sie eines, bevor Sie ein weiteres merken.")
            return redirect(_back())
        session[KEY] = [*kept, ident]
    flash("Das Angebot steht auf der Merkliste.")
    return redirect(_back())


@bp.post("/merkliste/entfernen")
@login_required
def remove() -> Any:
    ident = request.form.get("angebot", "")
    session[KEY] = [i for i in _kept() if i != ident]
    return redirect(_back())


@bp.post("/merkliste/leeren")
@login_required
def clear() -> Any:
    session.pop(KEY, None)
    flash("Die Merkliste ist leer.")
    return redirect(url_for(".page"))


def _listed() -> tuple[str, list[dict[str, Any]], int]:
    """The language asked for (``sprache``, else none), the kept offers still public, and how many are not."""
    language = request.args.get("sprache", "")
    offers, gone = [], 0
    for ident in _kept():
        found = published_offer(ident)
        if found is None:
            gone += 1  # no longer public: not on the client's list
            continue
        offers.append(found)
    return (language if language in LANGUAGES else ""), offers, gone


def _render(template: str, language: str, offers: list[dict[str, Any]], **context: Any) -> str:
    return render_template(
        template,
        title="Merkliste",
        user=current_user(),
        offers=offers,
        language=language,
        languages=LANGUAGES,
        headings=HEADINGS,
        opening_hours=opening_hours,
        **context,
    )


@bp.get("/merkliste")
@login_required
def page() -> Any:
    language, offers, gone = _listed()
    return _render("merkliste.html", language, offers, gone=gone)


@bp.get("/merkliste.pdf")
@login_required
def pdf() -> Any:
    """The list as a PDF to download (tagged, for screen readers), laid out for A4."""
    language, offers, _ = _listed()
    if not offers:
        return redirect(url_for(".page"))
    html = _render("merkliste_pdf.html", language, offers, pdf=True, made=today().strftime("%d.%m.%Y"))
    try:
        document = pdf_files.render(html, Path(str(current_app.static_folder)))
    except pdf_files.PdfUnavailable as error:
        log.warning("cannot make the Merkliste PDF: %s", error)
        flash("Das PDF kann gerade nicht erstellt werden. Drucken Sie die Liste mit der Druckfunktion (Strg+P).")
        return redirect(url_for(".page", sprache=language or None))
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="merkliste.pdf"', "Cache-Control": "no-store"},
    )


def public_address(offer_id: str) -> str:
    """The full address of the offer's public page (``LOTSE_WEB_PUBLIC_URL``, else the request's host)."""
    public = settings().public_url
    if public:
        return public + url_for("search.public_offer", ident=offer_id)
    return url_for("search.public_offer", ident=offer_id, _external=True)


def qr_code(offer_id: str) -> str:
    """A QR code (an SVG data URI) of the offer's public page, for the client's phone."""
    return str(segno.make(public_address(offer_id), error="m").svg_data_uri(scale=3, border=2))


def count() -> int:
    """How many offers the signed-in case manager keeps (for the navigation)."""
    return len(_kept())


def register(app: Flask) -> None:
    app.add_template_global(count, "merkliste_count")
    app.add_template_global(qr_code)
    app.add_template_global(public_address)
    app.register_blueprint(bp)
