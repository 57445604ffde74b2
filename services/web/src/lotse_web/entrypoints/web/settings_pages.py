"""Benachrichtigungen: where the user's organisation is told of its referrals (webhooks into its own systems,
e-mail addresses; the inbox always). A webhook's signing secret is shown once, on the page that made it, never
kept in the session."""

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.session import api, current_user, login_required, not_found, token

bp = Blueprint("settings", __name__)
KINDS = {"webhook": "Webhook (in Ihr Fachverfahren)", "email": "E-Mail"}
MANAGERS = ("agency", "maintainer", "admin")


def _page(errors: dict[str, str] | None = None, given: dict[str, str] | None = None, secret: str | None = None) -> Any:
    user = current_user()
    assert user is not None
    channels = api().channels(token(), user["organization_id"])
    return (
        render_template(
            "notifications.html",
            title="Benachrichtigungen",
            user=user,
            channels=channels,
            kinds=KINDS,
            errors=errors or {},
            given=given or {"kind": "email", "target": ""},
            secret=secret,
        ),
        400 if errors else 200,
    )


@bp.route("/einstellungen/benachrichtigungen", methods=["GET", "POST"])
@login_required
def notifications() -> Any:
    user = current_user()
    if not user or user["role"] not in MANAGERS or not user["organization_id"]:
        return not_found()
    if request.method == "GET":
        return _page()
    given = {"kind": request.form.get("kind", ""), "target": request.form.get("target", "").strip()}
    if given["kind"] not in KINDS:
        return _page({"kind": "Wählen Sie, wie Sie benachrichtigt werden wollen."}, given)
    if not given["target"]:
        what = "die Adresse Ihres Webhooks (https://…)" if given["kind"] == "webhook" else "die E-Mail-Adresse"
        return _page({"target": f"Geben Sie {what} ein."}, given)
    try:
        made = api().add_channel(token(), user["organization_id"], given["kind"], given["target"])
    except ApiError as error:
        if error.status in (400, 422):
            reason = "; ".join(error.fields.values())
            return _page({"target": f"Diese Adresse nehmen wir nicht an: {reason}"}, given)
        raise
    secrets = made.get("secrets") or []
    if secrets:  # shown now, on this page only
        return _page(secret=secrets[0]["secret"])  # newest first
    flash("Die E-Mail-Adresse ist eingetragen. Benachrichtigungen enthalten keine Daten der Person.")
    return redirect(url_for(".notifications"))


@bp.post("/einstellungen/benachrichtigungen/<ident>/<step>")
@login_required
def change(ident: str, step: str) -> Any:
    user = current_user()
    if not user or user["role"] not in MANAGERS or step not in ("schluessel", "entfernen", "testen"):
        return not_found()
    try:
        if step == "testen":
            flash(_tested(api().test_channel(token(), ident)))
            return redirect(url_for(".notifications"))
        if step == "entfernen":
            api().remove_entry(token(), "notification_channels", ident)
            flash("Der Weg ist entfernt.")
            return redirect(url_for(".notifications"))
        rotated = api().rotate_channel_secret(token(), ident)
    except ApiError as error:
        if error.status in (403, 404):
            return not_found()
        if error.status in (409, 412):
            flash("Das ging nicht: Der Eintrag wurde inzwischen geändert. Bitte versuchen Sie es noch einmal.")
            return redirect(url_for(".notifications"))
        raise
    return _page(secret=rotated["secrets"][0]["secret"])  # the new one; the old signs along for a day


def _tested(answer: dict[str, Any]) -> str:
    if answer["delivered"]:
        return "Die Testnachricht ist angekommen: Benachrichtigungen erreichen Ihre Stelle auf diesem Weg."
    return (
        f"Die Testnachricht ist nicht angekommen ({answer['detail']}). Bitte prüfen Sie die Adresse und ob Ihr "
        "System erreichbar ist; bis dahin sehen Sie neue Vermittlungen im Eingang."
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
