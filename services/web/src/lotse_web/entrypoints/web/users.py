"""Benutzer: administrators keep who may log in (embedded mode). A new person is invited: the directory keeps
them without a password and makes a link, valid for a week and used once, with which they choose one; the
page offers the link with a ready e-mail text. A person's name, e-mail, role, organisation and regions are
changed here; deactivating ends their logins; resetting a password makes the old one stop working and gives a
new link. In scale mode people and their roles are kept at the OIDC provider: the page says so."""

import re
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.admin import administrator
from lotse_web.entrypoints.web.referrals import german_date
from lotse_web.entrypoints.web.session import (
    ROLE_LABELS,
    UUID,
    api,
    external_url,
    login_required,
    mail_to,
    not_found,
    settings,
    token,
)

bp = Blueprint("users", __name__)
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
"""A new login (as the directory takes it)."""
KNOWN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
"""An existing one (the command line made some with capitals)."""
LINK = re.compile(r"^[A-Za-z0-9_.-]{20,400}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 12
MESSAGES = {
    "login": "Geben Sie eine Anmeldung aus Kleinbuchstaben, Ziffern, Punkt, Unterstrich oder Bindestrich ein, "
    "z. B. „maria.k“.",
    "name": "Geben Sie den Namen ein, wie andere ihn sehen sollen.",
    "email": "Geben Sie eine E-Mail-Adresse wie maria.k@kreis.example ein.",
    "rolle": "Wählen Sie eine Rolle.",
    "organisation": "Diese Organisation kennen wir nicht. Wählen Sie eine aus der Liste.",
    "regionen": "Diesen Kreis oder diese Gemeinde kennen wir nicht: {place}.",
}


def _organisations() -> dict[str, str]:
    """The organisations a user may belong to, by id (the first 500 by name)."""
    return {str(o["id"]): str(o.get("name") or o["id"]) for o in api().maintained(token())}


def _form(user: dict[str, Any] | None = None) -> dict[str, Any]:
    user = user or {}
    return {
        "login": user.get("id", ""),
        "name": user.get("name", ""),
        "email": user.get("email") or "",
        "rolle": user.get("role", ""),
        "organisation": "",
        "regionen": ", ".join(user.get("regions") or []),
        "aktiv": user.get("active", True),
    }


def _read(organisations: dict[str, str], new: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The form as given, what the directory is sent, and what is wrong, in German."""
    form = request.form
    given: dict[str, Any] = {
        k: form.get(k, "").strip()[:200] for k in ("login", "name", "email", "rolle", "organisation", "regionen")
    }
    given["aktiv"] = form.get("aktiv") == "ja"
    errors: dict[str, str] = {}
    if new and not LOGIN.match(given["login"]):
        errors["login"] = MESSAGES["login"]
    if not given["name"]:
        errors["name"] = MESSAGES["name"]
    if given["email"] and not _EMAIL.match(given["email"]):
        errors["email"] = MESSAGES["email"]
    if given["rolle"] not in ROLE_LABELS:
        errors["rolle"] = MESSAGES["rolle"]
    by_name = {name.casefold(): ident for ident, name in organisations.items()}
    org = given["organisation"]
    org_id = org if UUID.fullmatch(org) else by_name.get(org.casefold()) if org else None
    if org and org_id is None:
        errors["organisation"] = MESSAGES["organisation"]
    regions = []
    for place in (p.strip() for p in given["regionen"].split(",") if p.strip()):
        if re.fullmatch(r"\d{2,12}", place):
            regions.append(place)
            continue
        found = api().geocode(token(), place)
        key = (found[0].get("ags") if found and found[0].get("kind") == "gemeinde" else None) or (
            found[0].get("kreis_key") if found else None
        )
        if not key:
            errors["regionen"] = MESSAGES["regionen"].format(place=place)
        else:
            regions.append(str(key))
    body = {
        "name": given["name"],
        "email": given["email"] or None,
        "role": given["rolle"],
        "organization_id": org_id,
        "regions": regions,
    }
    return given, body, errors


@bp.get("/verwaltung/benutzer")
@login_required
def listing() -> Any:
    user = administrator()
    if user is None:
        return not_found()
    words = request.args.get("q", "").strip()[:100].casefold()
    people = api().users(token())
    shown = [
        p
        for p in people
        if not words or words in str(p.get("name") or "").casefold() or words in str(p["id"]).casefold()
    ]
    names = _organisations()
    return render_template(
        "users.html",
        title="Benutzer",
        user=user,
        people=shown,
        total=len(people),
        words=request.args.get("q", ""),
        names=names,
        roles=ROLE_LABELS,
        oidc=bool(settings().oidc_issuer),
    )


@bp.route("/verwaltung/benutzer/neu", methods=["GET", "POST"])
@login_required
def invite() -> Any:
    user = administrator()
    if user is None or settings().oidc_issuer:
        return not_found()
    organisations = _organisations()
    given = _form()
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, body, errors = _read(organisations, new=True)
        if not errors:
            try:
                made = api().invite_user(token(), {**body, "id": given["login"]})
            except ApiError as error:
                if error.status == 409:
                    errors["login"] = "Diese Anmeldung gibt es schon. Wählen Sie eine andere."
                elif error.status in (400, 422):
                    errors["name"] = "Das passt so nicht: " + "; ".join(error.fields.values())
                else:
                    raise
            else:
                return _link_page(made["user"], made, invited=True)
    return _form_page("users_form.html", errors, title="Person einladen", user=user, given=given,
                      organisations=organisations, person=None)  # fmt: skip


@bp.route("/verwaltung/benutzer/<login>", methods=["GET", "POST"])
@login_required
def person(login: str) -> Any:
    user = administrator()
    if user is None or not KNOWN.match(login):
        return not_found()
    found = next((p for p in api().users(token()) if p["id"] == login), None)
    if found is None:
        return not_found()
    organisations = _organisations()
    given = _form(found) | {"organisation": organisations.get(str(found.get("organization_id")), "")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, body, errors = _read(organisations, new=False)
        given["login"] = login
        if not errors:
            try:
                api().change_user(token(), login, {**body, "active": given["aktiv"]})
            except ApiError as error:
                if error.status == 409:
                    errors["aktiv"] = (
                        "Sich selbst können Sie nicht deaktivieren oder die Verwaltung entziehen. Bitten Sie eine "
                        "andere Person aus der Administration."
                    )
                elif error.status in (400, 422):
                    errors["name"] = "Das passt so nicht: " + "; ".join(error.fields.values())
                else:
                    raise
            else:
                flash(f"Die Angaben zu {body['name']} sind gespeichert.")
                return redirect(url_for(".listing"))
    return _form_page("users_form.html", errors, title=f"Benutzer: {found.get('name')}", user=user, given=given,
                      organisations=organisations, person=found)  # fmt: skip


@bp.post("/verwaltung/benutzer/<login>/passwort")
@login_required
def reset(login: str) -> Any:
    if administrator() is None or settings().oidc_issuer or not KNOWN.match(login):
        return not_found()
    try:
        made = api().reset_password(token(), login)
    except ApiError as error:
        if error.status == 404:
            return not_found()
        raise
    found = next((p for p in api().users(token()) if p["id"] == login), {"id": login, "name": login})
    return _link_page(found, made, invited=False)


def _form_page(template: str, errors: dict[str, str], **values: Any) -> Any:
    return render_template(template, errors=errors, roles=ROLE_LABELS, **values), 400 if errors else 200


def _link_page(person: dict[str, Any], made: dict[str, Any], invited: bool) -> Any:
    link = external_url("users.password", link=made["token"])
    until = german_date(made["expires_at"], False)
    subject = "Ihr Zugang zu Lotse" if invited else "Neues Passwort für Lotse"
    text = (
        f"Guten Tag {person.get('name')},\n\n"
        + (
            "Sie haben jetzt einen Zugang zu Lotse, der Verweisberatung im Kommunalen Integrationsmanagement. "
            if invited
            else "Ihr Passwort für Lotse wurde zurückgesetzt. "
        )
        + f"Ihre Anmeldung ist „{person['id']}“. Legen Sie Ihr Passwort mit diesem Link fest:\n\n{link}\n\n"
        f"Der Link gilt bis zum {until} und nur einmal.\n"
    )
    return render_template(
        "users_link.html",
        title="Einladung" if invited else "Passwort zurückgesetzt",
        user=administrator(),
        person=person,
        invited=invited,
        link=link,
        until=until,
        text=text,
        mailto=mail_to(person.get("email"), subject, text),
    )


@bp.route("/passwort/<link>", methods=["GET", "POST"])
def password(link: str) -> Any:
    """Choose a password with an invitation or reset link (no login)."""
    if not LINK.fullmatch(link):
        return _gone(404)
    try:
        whose = api().password_link(link)
    except ApiError as error:
        if error.status in (400, 404, 410, 409):
            return _gone(error.status)
        raise
    errors: dict[str, str] = {}
    if request.method == "POST":
        first, second = request.form.get("passwort", ""), request.form.get("wiederholung", "")
        if len(first) < MIN_PASSWORD:
            errors["passwort"] = f"Wählen Sie ein Passwort mit mindestens {MIN_PASSWORD} Zeichen."
        elif first != second:
            errors["wiederholung"] = "Die beiden Eingaben sind nicht gleich. Geben Sie das Passwort noch einmal ein."
        else:
            try:
                api().set_password(link, first)
            except ApiError as error:
                if error.status in (404, 410):
                    return _gone(error.status)
                if error.status != 422:
                    raise
                errors["passwort"] = f"Wählen Sie ein Passwort mit mindestens {MIN_PASSWORD} Zeichen."
            else:
                flash("Ihr Passwort ist gespeichert. Melden Sie sich jetzt damit an.")
                return redirect(url_for("account.login"))
    return (
        render_template("password.html", title="Passwort festlegen", user=None, whose=whose, errors=errors, given={}),
        400 if errors else 200,
    )


def _gone(status: int) -> Any:
    expired = status == 410
    return (
        render_template(
            "password_gone.html", title="Link nicht mehr gültig" if expired else "Link unbekannt", user=None,
            expired=expired,
        ),
        410 if expired else 404,
    )  # fmt: skip


def register(app: Flask) -> None:
    app.register_blueprint(bp)
