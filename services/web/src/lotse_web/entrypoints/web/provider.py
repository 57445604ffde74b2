"""Vom Anbieter bestätigen lassen: a maintainer makes a signed link that expires and sends it to the offer's
provider (by their own e-mail program: the page offers the text); the provider opens it without an account,
sees the offer as case managers see it and answers once: "Alles stimmt" (the offer counts as confirmed) or
what is wrong (a note the maintainers see on the offer's page and on "Verzeichnis pflegen" until one of them
marks it as dealt with)."""

import re
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.maintain import maintainer
from lotse_web.entrypoints.web.referrals import german_date
from lotse_web.entrypoints.web.search import opening_hours
from lotse_web.entrypoints.web.session import (
    UUID,
    api,
    current_user,
    external_url,
    login_required,
    mail_to,
    not_found,
    token,
)

bp = Blueprint("provider", __name__)
LINK = re.compile(r"^[A-Za-z0-9_.-]{20,600}$")


@bp.post("/pflege/angebote/<ident>/bestaetigungslink")
@login_required
def make_link(ident: str) -> Any:
    """A new link for the offer's provider, shown with a ready text to send it by e-mail."""
    user = maintainer()
    if user is None or not UUID.fullmatch(ident):
        return not_found()
    try:
        offer, _ = api().entry(token(), "services", ident)
        made = api().confirmation_link(token(), ident)
    except ApiError as error:
        if error.status in (403, 404):
            return not_found()
        raise
    link = external_url("provider.answer", link=made["token"])
    until = german_date(made["expires_at"], False)
    subject = f"Bitte prüfen: Ihr Angebot „{offer.get('name')}“ im Lotse-Verzeichnis"
    text = (
        "Guten Tag,\n\n"
        f"im Verzeichnis des Kommunalen Integrationsmanagements steht Ihr Angebot „{offer.get('name')}“. "
        "Fallmanager:innen vermitteln Menschen danach an Sie. Bitte sehen Sie sich an, was dort steht, und "
        "sagen Sie uns, ob es noch stimmt. Dafür brauchen Sie kein Konto; öffnen Sie einfach diesen Link:\n\n"
        f"{link}\n\nDer Link gilt bis zum {until}.\n\nVielen Dank!\n{user['name']}"
    )
    return render_template(
        "maintain_link.html",
        title=f"Bestätigungslink: {offer.get('name')}",
        user=user,
        offer=offer,
        link=link,
        until=until,
        text=text,
        mailto=mail_to(offer.get("email"), subject, text),
    )


@bp.post("/pflege/anbieter-hinweise/<link_id>/erledigt")
@login_required
def done(link_id: str) -> Any:
    if maintainer() is None or not UUID.fullmatch(link_id):
        return not_found()
    try:
        api().close_provider_reply(token(), link_id)
    except ApiError as error:
        if error.status == 404:
            return not_found()
        if error.status != 409:
            raise
    flash("Der Hinweis ist als erledigt markiert.")
    back = request.form.get("zurueck", "")
    return redirect(back if back.startswith("/pflege") and not back.startswith("//") else url_for("maintain.overview"))


@bp.route("/bestaetigen/<link>", methods=["GET", "POST"])
def answer(link: str) -> Any:
    """The provider's page: no login; the signed link is the key."""
    if not LINK.fullmatch(link):
        return _gone(404)
    try:
        shown = api().provider_confirmation(link)
    except ApiError as error:
        if error.status in (400, 404, 410):
            return _gone(error.status)
        raise
    errors: dict[str, str] = {}
    given = {"korrektur": ""}
    if request.method == "POST" and shown["answer"] is None:
        step = request.form.get("aktion")
        given["korrektur"] = request.form.get("korrektur", "").strip()[:2000]
        body: dict[str, Any] | None = None
        if step == "stimmt":
            body = {"still_right": True}
        elif step == "korrektur" and len(given["korrektur"]) >= 3:
            body = {"correction": given["korrektur"]}
        else:
            errors["korrektur"] = "Schreiben Sie, was nicht stimmt und wie es richtig ist."
        if body is not None:
            try:
                api().answer_provider_confirmation(link, body)
            except ApiError as error:
                if error.status == 410:
                    return _gone(410)
                if error.status != 409:  # answered meanwhile (in another tab): the page says so
                    raise
            return redirect(url_for(".answer", link=link))
    return (
        render_template(
            "provider.html",
            title=f"Ihr Angebot: {shown['service'].get('name')}",
            user=current_user(),
            offer=shown["service"],
            answer=shown["answer"],
            until=german_date(shown["expires_at"], False),
            answered_on=german_date(shown["answer"]["answered_at"], False) if shown["answer"] else None,
            opening_hours=opening_hours,
            errors=errors,
            given=given,
        ),
        400 if errors else 200,
    )


def _gone(status: int) -> Any:
    expired = status == 410
    return (
        render_template(
            "provider_gone.html", title="Link abgelaufen" if expired else "Link unbekannt", user=None, expired=expired
        ),
        410 if expired else 404,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
