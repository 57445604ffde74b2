"""What a notification says: the webhook's thin JSON payload and the e-mail's German text.

Neither holds personal data: the referral's id, legal domain, region and status, and a link into the system,
where staff who may see the referral open it after signing in.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from lotse_contracts import LegalDomain, ReferralEvent


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification as it is sent."""

    delivery_id: str
    event_id: str
    event_type: str
    referral_id: str
    legal_domain: str
    region_key: str
    referral_status: str
    urgency: str | None
    side: str
    created_at: datetime
    link: str


TEST_EVENT = "notify.test"
"""A test message an organisation sends itself from its notification settings: no referral behind it."""


def test_notice(delivery_id: str, created_at: datetime) -> Notice:
    return Notice(delivery_id, delivery_id, TEST_EVENT, "", "", "", "test", None, "recipient", created_at, "")


def webhook_body(notice: Notice) -> bytes:
    """The request body, after the Standard Webhooks payload structure (``type``, ``timestamp``, ``data``)."""
    if notice.event_type == TEST_EVENT:
        test = {"type": TEST_EVENT, "timestamp": notice.created_at.isoformat(timespec="seconds"), "data": {}}
        return json.dumps(test, separators=(",", ":")).encode()
    payload = {
        "type": notice.event_type,
        "timestamp": notice.created_at.isoformat(timespec="seconds"),
        "data": {
            "referral_id": notice.referral_id,
            "event_id": notice.event_id,
            "legal_domain": notice.legal_domain,
            "region_key": notice.region_key,
            "status": notice.referral_status,
            "urgency": notice.urgency,
            "side": notice.side,
            "link": notice.link,
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


_SUBJECTS = {
    ReferralEvent.REQUESTED: "Neue Vermittlung an Ihre Stelle",
    ReferralEvent.REMINDER_DUE: "Erinnerung: Vermittlung noch nicht bestätigt",
    ReferralEvent.CANCELLED: "Vermittlung zurückgezogen",
    ReferralEvent.ENTERED_IN_ERROR: "Vermittlung als irrtümlich angelegt markiert",
    ReferralEvent.ACKNOWLEDGED: "Ihre Vermittlung ist eingegangen",
    ReferralEvent.ACCEPTED: "Ihre Vermittlung wurde angenommen",
    ReferralEvent.DECLINED: "Ihre Vermittlung wurde abgelehnt",
    ReferralEvent.FORWARDED: "Ihre Vermittlung wurde weitergeleitet",
    ReferralEvent.COMPLETED: "Ihre Vermittlung wurde abgeschlossen",
    ReferralEvent.FAILED: "Ihre Vermittlung wurde ohne Erfolg beendet",
}


_TEST_LINES = (
    "Guten Tag,",
    "",
    "dies ist eine Testnachricht von Lotse. Jemand aus Ihrer Stelle hat sie in den Einstellungen",
    "zu den Benachrichtigungen ausgelöst.",
    "",
    "Sie kommt an: Auf diesem Weg erfahren Sie auch von Vermittlungen an Ihre Stelle.",
    "",
    "Sie wurde automatisch erstellt; bitte antworten Sie nicht darauf.",
    "",
    "Lotse – Kommunales Integrationsmanagement",
)


def email_text(notice: Notice) -> tuple[str, str]:
    """Subject and plain text of the e-mail."""
    if notice.event_type == TEST_EVENT:
        return "Lotse: Testnachricht", "\n".join(_TEST_LINES) + "\n"
    name = notice.event_type.partition(".")[2]
    event = ReferralEvent(name) if name in ReferralEvent._value2member_map_ else None
    what = _SUBJECTS.get(event, "Neuigkeit zu einer Vermittlung") if event else "Neuigkeit zu einer Vermittlung"
    domain = (
        LegalDomain(notice.legal_domain).title_de
        if notice.legal_domain in LegalDomain._value2member_map_
        else notice.legal_domain
    )
    urgent = notice.urgency == "urgent"
    short = domain.split(" – ")[0]  # "SGB VIII": a subject short enough not to be folded
    subject = f"{'[Dringend] ' if urgent else ''}Lotse: {what} ({short})"
    lines = [
        "Guten Tag,",
        "",
        f"{what}.",
        "",
        f"Rechtskreis: {domain}",
        f"Gebiet (Regionalschlüssel): {notice.region_key}",
        f"Stand: {notice.referral_status}",
        *(["Dringlichkeit: dringend"] if urgent else []),
        "",
        "Die Einzelheiten sehen Sie nach der Anmeldung in Lotse:",
        notice.link,
        "",
        "Diese Nachricht enthält bewusst keine personenbezogenen Daten.",
        "Sie wurde automatisch erstellt; bitte antworten Sie nicht darauf.",
        "",
        "Lotse – Kommunales Integrationsmanagement",
    ]
    return subject, "\n".join(lines) + "\n"
