"""Erklärung zur Barrierefreiheit (BITV NRW, after the EU's model statement): how far Lotse meets the
requirements, what is not accessible yet, how the statement was made, a feedback form that reaches the
operator by e-mail, and the enforcement body. Open to everyone, signed in or not."""

import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from lotse_web.entrypoints.web.local_time import BERLIN
from lotse_web.entrypoints.web.session import current_user, settings

bp = Blueprint("accessibility", __name__)
MAX_MESSAGE = 5000


@bp.route("/barrierefreiheit", methods=["GET", "POST"])
def statement() -> Any:
    given = {name: request.form.get(name, "").strip() for name in ("nachricht", "email", "seite")}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and _form_shown():
        errors, status = _errors(given), 400
        if not errors:
            try:
                _send(given)
            except (OSError, smtplib.SMTPException):
                errors["nachricht"] = (
                    "Ihre Nachricht konnte gerade nicht gesendet werden. Bitte versuchen Sie es später noch einmal "
                    f"oder schreiben Sie an {settings().operator_email}."
                )
                status = 503
            else:
                flash("Danke. Ihre Nachricht ist an die Stelle gegangen, die Lotse hier betreibt.")
                return redirect(url_for(".statement") + "#rueckmeldung")
    return (
        render_template(
            "accessibility.html",
            title="Erklärung zur Barrierefreiheit",
            user=current_user(),
            given=given,
            errors=errors,
            operator=settings().operator or "Die Stelle, die Lotse hier betreibt,",
            operator_email=settings().operator_email,
            form_shown=_form_shown(),
            max_message=MAX_MESSAGE,
        ),
        status,
    )


def _form_shown() -> bool:
    return bool(settings().smtp_host and settings().operator_email)


def _errors(given: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not given["nachricht"]:
        errors["nachricht"] = "Schreiben Sie, was nicht barrierefrei ist oder was Sie brauchen."
    elif len(given["nachricht"]) > MAX_MESSAGE:
        errors["nachricht"] = f"Ihre Nachricht ist länger als {MAX_MESSAGE} Zeichen. Bitte kürzen Sie sie."
    address = parseaddr(given["email"])[1]
    if given["email"] and (address != given["email"] or "@" not in address or "\n" in address):
        errors["email"] = (
            "Geben Sie eine E-Mail-Adresse ein, zum Beispiel name@beispiel.de, oder lassen Sie das Feld leer."
        )
    return errors


def _send(given: dict[str, str]) -> None:
    s = settings()
    assert s.smtp_host and s.operator_email
    message = EmailMessage()
    message["Subject"] = "Lotse: Rückmeldung zur Barrierefreiheit"
    message["From"] = s.mail_from
    message["To"] = s.operator_email
    if given["email"]:
        message["Reply-To"] = given["email"]
    lines = [
        "Über die Erklärung zur Barrierefreiheit von Lotse kam diese Rückmeldung:",
        "",
        given["nachricht"],
        "",
        f"Seite: {given['seite'] or 'nicht angegeben'}",
        f"Antwort an: {given['email'] or 'keine Adresse angegeben'}",
        f"Eingegangen: {datetime.now(BERLIN):%d.%m.%Y, %H:%M} Uhr",
    ]
    message.set_content("\n".join(lines))
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
