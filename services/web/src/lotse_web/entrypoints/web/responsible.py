"""Wer ist zuständig? The legal domain and the client's place (for SGB VIII: whose residence counts); the answer
with the office, its opening hours and the reason in plain German. An ambiguous answer shows every candidate
and what would decide, and picks none."""

from typing import Any

from flask import Blueprint, Flask, render_template, request
from lotse_contracts import LegalDomain

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.session import api, current_user, login_required, token

bp = Blueprint("responsible", __name__)
DOMAINS = [LegalDomain.SGB_II, LegalDomain.SGB_III, LegalDomain.SGB_VIII, LegalDomain.AUFENTHG, LegalDomain.STAG]
RESIDENCE = {"parents": "der Eltern", "custodial_parent": "des sorgeberechtigten Elternteils"}
DECIDES = {
    "gemeinde": "Entscheidend ist die Gemeinde, in der die Person wohnt. Geben Sie die Adresse mit Ort ein, "
    "zum Beispiel „Hauptstraße 1, 32049 Herford“.",
    "postal_code": "Entscheidend ist die genaue Postleitzahl. Geben Sie die Postleitzahl der Wohnadresse ein.",
    "data": "Im Verzeichnis fehlt eine Angabe, die das entscheiden würde. Fragen Sie bei den Stellen nach und "
    "melden Sie die Lücke der Verzeichnispflege.",
}
FIELD_OF = {"legal_domain": "rechtskreis", "location": "ort", "residence_of": "wohnsitz"}
MESSAGES = {
    "rechtskreis": "Wählen Sie den Rechtskreis, um den es geht.",
    "ort": "Diesen Ort kennen wir nicht. Geben Sie eine Postleitzahl, „PLZ Ort“, eine Adresse oder eine Gemeinde ein.",
    "wohnsitz": "Wählen Sie, wessen Wohnsitz zählt: Bei der Kinder- und Jugendhilfe entscheidet der gewöhnliche "
    "Aufenthalt der Eltern (§ 86 SGB VIII).",
}


@bp.get("/zustaendigkeit")
@login_required
def ask() -> Any:
    given = {
        "rechtskreis": request.args.get("rechtskreis", ""),
        "ort": request.args.get("ort", "").strip(),
        "wohnsitz": request.args.get("wohnsitz", ""),
    }
    errors: dict[str, str] = {}
    answer = None
    if "frage" in request.args:
        if given["rechtskreis"] not in {d.value for d in DOMAINS}:
            errors["rechtskreis"] = MESSAGES["rechtskreis"]
        if not given["ort"]:
            errors["ort"] = "Geben Sie den Wohnort ein: Postleitzahl, „PLZ Ort“, Adresse oder Gemeinde."
        if given["rechtskreis"] == LegalDomain.SGB_VIII.value and given["wohnsitz"] not in RESIDENCE:
            errors["wohnsitz"] = MESSAGES["wohnsitz"]
        if not errors:
            residence = given["wohnsitz"] if given["rechtskreis"] == LegalDomain.SGB_VIII.value else None
            try:
                answer = api().responsible(token(), given["rechtskreis"], given["ort"], residence)
            except ApiError as error:
                if error.status in (400, 422):
                    for name in error.fields or {"location": ""}:
                        field = FIELD_OF.get(name, "ort")
                        errors[field] = MESSAGES[field]
                else:
                    errors["ort"] = (
                        "Die Auskunft ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."
                    )
    return (
        render_template(
            "responsible.html",
            title="Wer ist zuständig?",
            user=current_user(),
            given=given,
            errors=errors,
            answer=answer,
            domains=DOMAINS,
            residence=RESIDENCE,
            decides=DECIDES,
        ),
        400 if errors else 200,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
