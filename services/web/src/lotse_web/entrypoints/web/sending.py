"""Vermitteln: a referral to the body "Wer ist zuständig?" named, as question pages: first a page that says
Lotse is not for a child-welfare emergency (§ 8a SGB VIII) and whom to call instead; then the client's data
(only what the recipient needs), the reason and urgency, the consent (what the client was told under SGB X
§ 67b Abs. 2, whether they consented, who did: for a child under 15 the person with custody, § 36 SGB I; when,
in which form, to which data), then "check your answers", then the referral's page. A "no" to the consent
leads to a page that says what the case manager can do instead. Nothing is stored before the last step;
"Als Entwurf speichern" keeps it as the sender's draft."""

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from lotse_contracts import CONSENT_AGE, ConsentRole, Informed, LegalDomain, age_on

from lotse_web.adapters.api import ApiError
from lotse_web.entrypoints.web.local_time import BERLIN, today
from lotse_web.entrypoints.web.responsible import RESIDENCE
from lotse_web.entrypoints.web.session import UUID, api, current_user, login_required, not_found, token

bp = Blueprint("sending", __name__)
FORMS = {"written": "schriftlich", "verbal_documented": "mündlich (hier dokumentiert)", "electronic": "elektronisch"}
CATEGORIES = {"name": "Name", "birth_date": "Geburtsdatum", "contact": "Kontaktdaten", "reason": "Anliegen"}
TOLD = {i.value: i.label_de for i in Informed}
"""What the client is told before consenting (SGB X § 67b Abs. 2)."""
ROLES = {r.value: r.label_de for r in ConsentRole}
FIELDS = (
    "rechtskreis", "ort", "wohnsitz", "stelle", "name", "geburtsdatum", "telefon", "email", "anliegen",
    "dringlichkeit", "einwilligung", "rolle", "eingewilligt_von", "eingewilligt_am", "eingewilligt_um", "form",
    "weitergabe", "entwurf", "revision", "angebot",
)  # fmt: skip
"""The question page's fields; ``entwurf`` and ``revision`` name a draft being written anew, ``angebot`` an
offer the referral goes to (instead of the body "Wer ist zuständig?" named)."""


def _given() -> dict[str, Any]:
    source = request.form if request.method == "POST" else request.args
    given: dict[str, Any] = {name: source.get(name, "").strip() for name in FIELDS}
    given["daten"] = source.getlist("daten")
    given["informiert"] = source.getlist("informiert")
    return given


def _recipient(given: dict[str, Any]) -> dict[str, Any] | None:
    """The chosen body among the candidates routing names for the domain and place (never one it does not), or
    the organisation of the offer chosen in the search."""
    if given["angebot"]:
        offer = api().offer(given["angebot"])
        domains = [d for d in offer.get("legal_domains") or [] if d in {x.value for x in LegalDomain}]
        domains = domains or [d.value for d in LegalDomain]
        if given["rechtskreis"] not in domains:
            given["rechtskreis"] = domains[0]
        organization = offer.get("organization") or {}
        given["stelle"] = organization.get("id") or offer.get("organization_id") or ""
        return {"organization_id": given["stelle"], "name": organization.get("name", ""), "offer": offer["name"],
                "legal_domains": domains, "ambiguous": False}  # fmt: skip
    residence = given["wohnsitz"] if given["rechtskreis"] == LegalDomain.SGB_VIII.value else None
    answer = api().responsible(token(), given["rechtskreis"], given["ort"], residence)
    found = [c for c in answer["candidates"] if c["organization_id"] == given["stelle"]]
    return {**found[0], "ambiguous": answer["outcome"] == "ambiguous"} if found else None


def _errors(given: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if given["angebot"] and not given["ort"]:
        errors["ort"] = "Geben Sie den Wohnort der Person ein: Postleitzahl, „PLZ Ort“ oder Adresse."
    if not given["name"]:
        errors["name"] = "Geben Sie den Namen der Person ein."
    if given["geburtsdatum"] and not day_given(given["geburtsdatum"]):
        errors["geburtsdatum"] = "Geben Sie das Geburtsdatum als Datum ein, zum Beispiel 01.04.1990."
    if not given["anliegen"]:
        errors["anliegen"] = "Beschreiben Sie kurz, worum es geht."
    if set(given["informiert"]) != set(TOLD):
        errors["informiert"] = (
            "Informieren Sie die Person über alle drei Punkte, bevor sie einwilligt (§ 67b Abs. 2 SGB X)."
        )
    if given["einwilligung"] != "ja":
        errors["einwilligung"] = "Geben Sie an, ob die Person eingewilligt hat."
    if given["rolle"] not in ROLES:
        errors["rolle"] = "Wählen Sie, wer eingewilligt hat."
    elif given["rolle"] == "client" and _under_age(given):
        errors["rolle"] = (
            f"Die Person ist jünger als {CONSENT_AGE} Jahre. Für sie willigt die sorgeberechtigte Person oder die "
            "gesetzliche Vertretung ein (§ 36 SGB I)."
        )
    if not given["eingewilligt_von"]:
        errors["eingewilligt_von"] = "Geben Sie den Namen der Person ein, die eingewilligt hat."
    if given["form"] not in FORMS:
        errors["form"] = "Wählen Sie, in welcher Form eingewilligt wurde."
    if _consented_at(given) is None:
        errors["eingewilligt_am"] = (
            "Geben Sie Tag und Uhrzeit der Einwilligung ein; sie darf nicht in der Zukunft liegen."
        )
    needed = {"name", "reason"} | ({"birth_date"} if given["geburtsdatum"] else set())
    needed |= {"contact"} if given["telefon"] or given["email"] else set()
    missing = [CATEGORIES[c] for c in sorted(needed - set(given["daten"]))]
    if missing or not set(given["daten"]) <= set(CATEGORIES):
        errors["daten"] = (
            "Die Einwilligung muss alle Angaben umfassen, die Sie weitergeben: " + ", ".join(missing) + "."
        )
    return errors


def _under_age(given: dict[str, Any]) -> bool:
    """Whether the client was younger than :data:`CONSENT_AGE` on the day of the consent (False: not known)."""
    born, consented = day_given(given["geburtsdatum"]), _consented_at(given)
    if born is None or consented is None:
        return False
    return age_on(datetime.fromisoformat(born).date(), consented.date()) < CONSENT_AGE


def day_given(text: str) -> str | None:
    """A day as the user wrote it (``01.04.1990`` or ``1990-04-01``), as ISO; None if it is none, before 1900 or
    in the future."""
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return day.isoformat() if day.year >= 1900 and day <= today() else None
    return None


def _consented_at(given: dict[str, Any]) -> datetime | None:
    day = day_given(given["eingewilligt_am"])
    try:
        moment = datetime.fromisoformat(f"{day}T{given['eingewilligt_um'] or '00:00'}").replace(tzinfo=BERLIN)
    except (TypeError, ValueError):
        return None
    return moment if moment <= datetime.now(BERLIN) else None


def _body(given: dict[str, Any], draft: bool) -> dict[str, Any]:
    client: dict[str, Any] = {"name": given["name"]}
    if given["geburtsdatum"]:
        client["birth_date"] = day_given(given["geburtsdatum"])
    client |= {k: given[f] for k, f in (("phone", "telefon"), ("email", "email")) if given[f]}
    consented = _consented_at(given)
    assert consented is not None
    body: dict[str, Any] = {
        "legal_domain": given["rechtskreis"],
        "location": given["ort"],
        "reason": given["anliegen"],
        "urgency": "urgent" if given["dringlichkeit"] == "dringend" else "normal",
        "client": client,
        "consent": {
            "given_by": given["eingewilligt_von"],
            "given_at": consented.isoformat(),
            "form": given["form"],
            "recipient_organization_id": given["stelle"],
            "data_categories": given["daten"],
            "onward_transfer": given["weitergabe"] == "ja",
            "given_by_role": given["rolle"],
            "informed_of": [item for item in TOLD if item in given["informiert"]],
        },
        "draft": draft,
    }
    if given["angebot"]:
        body["service_id"] = given["angebot"]
    else:
        body["recipient_organization_id"] = given["stelle"]
    if given["rechtskreis"] == LegalDomain.SGB_VIII.value and given["wohnsitz"]:
        body["residence_of"] = given["wohnsitz"]
    return body


def _page(template: str, given: dict[str, Any], recipient: dict[str, Any], errors: dict[str, str]) -> Any:
    return (
        render_template(
            template,
            title="Vermittlung prüfen" if template == "send_check.html" else "Vermitteln",
            user=current_user(),
            given=given,
            recipient=recipient,
            errors=errors,
            forms=FORMS,
            categories=CATEGORIES,
            told=TOLD,
            roles=ROLES,
            residence=RESIDENCE,
            domain=LegalDomain(given["rechtskreis"]),
            fields=FIELDS,
            days={k: day_given(given[k]) for k in ("geburtsdatum", "eingewilligt_am") if given[k]},
        ),
        400 if errors else 200,
    )


@bp.route("/vermitteln", methods=["GET", "POST"])
@login_required
def send() -> Any:
    user = current_user()
    if not user or user["role"] != "case_manager":
        return not_found()
    given = _given()
    chosen = given["angebot"] and UUID.fullmatch(given["angebot"])
    if not chosen and (
        given["rechtskreis"] not in {d.value for d in LegalDomain} or not given["ort"] or not given["stelle"]
    ):
        flash("Wählen Sie zuerst über „Wer ist zuständig?“ die Stelle, an die Sie vermitteln.")
        return redirect(url_for("responsible.ask"))
    try:
        recipient = _recipient(given)
    except ApiError:
        recipient = None
    if recipient is None and chosen:
        flash("Dieses Angebot steht nicht mehr im Verzeichnis.")
        return redirect(url_for("search.offers"))
    if recipient is None:
        flash("Diese Stelle ist für den Ort und das Anliegen nicht zuständig. Bitte fragen Sie erneut.")
        return redirect(url_for("responsible.ask"))
    step = request.form.get("schritt", "")
    if request.method == "GET" and not given["entwurf"] and request.args.get("hinweis") != "gelesen":
        return _interrupt(given)
    if request.method == "POST" and given["einwilligung"] == "nein" and step != "aendern":
        return _page("send_refused.html", given, recipient, {})
    if request.method == "GET":
        now = datetime.now(BERLIN)
        given |= {"eingewilligt_am": now.date().isoformat(), "eingewilligt_um": now.strftime("%H:%M")}
        given["daten"] = ["name", "reason"]
        return _page("send.html", given, recipient, {})
    if step == "aendern":
        return _page("send.html", given, recipient, {})
    errors = _errors(given)
    if errors:
        return _page("send.html", given, recipient, errors)
    if step == "pruefen":
        return _page("send_check.html", given, recipient, {})
    draft = step == "entwurf"
    try:
        if given["entwurf"]:
            body = {**_body(given, draft), "revision": int(given["revision"] or 0)}
            made = api().revise_referral(token(), given["entwurf"], body)
        else:
            made = api().create_referral(token(), _body(given, draft))
    except ApiError as error:
        if error.status == 409 and given["entwurf"]:
            flash(
                "Der Entwurf wurde inzwischen geändert oder abgeschickt; Ihre Änderungen sind nicht gespeichert. "
                "Unten steht sein aktueller Stand."
            )
            return redirect(url_for("referrals.page", ident=given["entwurf"]))
        if error.status in (403, 404) and given["entwurf"]:
            return not_found()
        if error.status in (400, 409, 422):
            if "location" in error.fields:
                return _page(
                    "send.html", given, recipient, {"ort": "Diesen Ort kennen wir nicht. Bitte prüfen Sie ihn."}
                )
            reasons = "; ".join(error.fields.values()) or error.problem.get("detail", "")
            return _page("send.html", given, recipient, {"name": f"Die Vermittlung wurde nicht angenommen: {reasons}"})
        raise
    if draft:
        flash("Die Vermittlung ist als Entwurf gespeichert. Nur Ihre Stelle sieht sie, bis Sie sie abschicken.")
    else:
        flash(
            f"Die Vermittlung ist abgeschickt. {recipient['name']} wird jetzt benachrichtigt. Sie sehen hier, "
            "wann die Stelle sie zur Kenntnis nimmt und annimmt."
        )
    return redirect(url_for("referrals.page", ident=made["id"]))


def _interrupt(given: dict[str, Any]) -> Any:
    """The page before a referral is written: not for a child-welfare emergency (§ 8a SGB VIII), with the
    Jugendamt for the client's place where routing names one."""
    jugendamt = None
    if given["ort"]:
        try:
            answer = api().responsible(token(), LegalDomain.SGB_VIII.value, given["ort"], "parents")
        except ApiError:
            answer = {"candidates": []}
        jugendamt = answer["candidates"][0] if len(answer["candidates"]) == 1 else None
    return render_template(
        "send_interrupt.html", title="Bevor Sie vermitteln", user=current_user(), given=given, jugendamt=jugendamt
    )


@bp.get("/vermitteln/entwurf/<ident>")
@login_required
def edit(ident: str) -> Any:
    """A saved draft on the question page again, as it was written (the consent's time as recorded)."""
    user = current_user()
    if not user or user["role"] != "case_manager" or not UUID.fullmatch(ident):
        return not_found()
    try:
        draft = api().referral(token(), ident)
    except ApiError as error:
        if error.status in (403, 404):
            return not_found()
        raise
    if (
        draft["status"] != "draft"
        or draft.get("parent_id")
        or draft["sender_organization_id"] != user["organization_id"]
    ):
        flash("Nur ein Entwurf Ihrer Stelle lässt sich noch ändern.")
        return redirect(url_for("referrals.page", ident=ident))
    given = _from_draft(draft)
    try:
        recipient = _recipient(given)
    except ApiError:
        recipient = None
    if recipient is None:
        flash("Für diesen Ort ist die Stelle des Entwurfs nicht mehr zuständig. Bitte fragen Sie erneut.")
        return redirect(url_for("responsible.ask", frage=1, rechtskreis=given["rechtskreis"], ort=given["ort"]))
    return _page("send.html", given, recipient, {})


def _from_draft(draft: dict[str, Any]) -> dict[str, Any]:
    """The question page's fields of a draft routing holds."""
    client = draft.get("client") or {}
    consent = draft["consent"]
    consented = datetime.fromisoformat(consent["given_at"]).astimezone(BERLIN)
    birth = client.get("birth_date")
    given: dict[str, Any] = {
        "rechtskreis": draft["legal_domain"],
        "ort": draft.get("postal_code") or draft.get("place_name") or "",
        "wohnsitz": draft.get("residence_of") or "",
        "stelle": draft["recipient_organization_id"],
        "name": client.get("name", ""),
        "geburtsdatum": f"{birth[8:10]}.{birth[5:7]}.{birth[:4]}" if birth else "",
        "telefon": client.get("phone", ""),
        "email": client.get("email", ""),
        "anliegen": draft.get("reason") or "",
        "dringlichkeit": "dringend" if draft.get("urgency") == "urgent" else "",
        "eingewilligt_von": consent.get("given_by") or "",
        "eingewilligt_am": consented.date().isoformat(),
        "eingewilligt_um": consented.strftime("%H:%M"),
        "form": consent["form"],
        "weitergabe": "ja" if consent.get("onward_transfer") else "",
        "rolle": consent.get("given_by_role") or "",
        "einwilligung": "",  # confirmed again: the person is told again before the referral goes out
        "informiert": [],
        "entwurf": draft["id"],
        "revision": str(draft["revision"]),
        "angebot": (draft.get("decision") or {}).get("service_id") or "",
        "daten": list(consent.get("data_categories") or []),
    }
    return given


def register(app: Flask) -> None:
    app.register_blueprint(bp)
