"""What the services say about referrals: their states, the events of their lifecycle, decline reasons, who
consents and what a client is told before.

The lifecycle is docs/architecture.md's (section Referral lifecycle). Events carry no personal data: the client's
name, birth date and contact, the free-text reason and any "sonstiges" text stay in the routing
service and are fetched over its authenticated API.
"""

from datetime import date
from enum import StrEnum


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    DECLINED = "declined"
    FORWARDED = "forwarded"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"


class ReferralEvent(StrEnum):
    """The ``<event>`` of ``referral.<event>`` (event type) and of its routing key."""

    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    FORWARDED = "forwarded"
    ON_HOLD = "on_hold"
    IN_PROGRESS = "in_progress"
    RESUMED = "resumed"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"
    REMINDER_DUE = "reminder_due"

    @property
    def event_type(self) -> str:
        return f"referral.{self.value}"


class CancelReason(StrEnum):
    """Why a referral was cancelled: by its sender (the client moved, it is no longer needed), or by the
    system when the client withdrew consent."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    CLIENT_MOVED = "client_moved"
    NO_LONGER_NEEDED = "no_longer_needed"


class DeclineReason(StrEnum):
    """The fixed list a receiving agency declines with; ``SONSTIGES`` takes a free text (not in events)."""

    OERTLICH_UNZUSTAENDIG = "oertlich_unzustaendig"
    SACHLICH_UNZUSTAENDIG = "sachlich_unzustaendig"
    NICHT_ANSPRUCHSBERECHTIGT = "nicht_anspruchsberechtigt"
    KEINE_KAPAZITAET = "keine_kapazitaet"
    NICHT_ERREICHBAR = "nicht_erreichbar"
    KLIENT_LEHNT_AB = "klient_lehnt_ab"
    UNTERLAGEN_FEHLEN = "unterlagen_fehlen"
    EINWILLIGUNG_FEHLT = "einwilligung_fehlt"
    DUPLIKAT = "duplikat"
    SONSTIGES = "sonstiges"

    @property
    def label_de(self) -> str:
        return _DECLINE_LABELS_DE[self]


class ConsentRole(StrEnum):
    """Who gave a consent (§ 36 SGB I: a client under :data:`CONSENT_AGE` does not consent alone)."""

    CLIENT = "client"
    CUSTODIAN = "custodian"
    """The person with custody of a child."""
    REPRESENTATIVE = "representative"
    """A legal representative: a guardian (Vormund) or a court-appointed carer (Betreuer)."""

    @property
    def label_de(self) -> str:
        return _ROLE_LABELS_DE[self]


class Informed(StrEnum):
    """What a client is told before consenting (SGB X § 67b Abs. 2); a consent needs all of them."""

    PURPOSE = "purpose"
    """Why the data are passed on."""
    REFUSAL = "refusal"
    """What refusing means."""
    WITHDRAWAL = "withdrawal"
    """That and how the consent can be withdrawn."""

    @property
    def label_de(self) -> str:
        return _INFORMED_LABELS_DE[self]


CONSENT_AGE = 15
"""From this age a client consents alone (§ 36 SGB I)."""


def age_on(born: date, day: date) -> int:
    """Full years of life on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_ROLE_LABELS_DE = {
    ConsentRole.CLIENT: "die Person selbst",
    ConsentRole.CUSTODIAN: "die sorgeberechtigte Person (Mutter, Vater oder wer das Sorgerecht hat)",
    ConsentRole.REPRESENTATIVE: "die gesetzliche Vertretung (Vormundschaft oder rechtliche Betreuung)",
}
_INFORMED_LABELS_DE = {
    Informed.PURPOSE: "wozu die Angaben weitergegeben werden",
    Informed.REFUSAL: "was geschieht, wenn sie nicht einwilligt",
    Informed.WITHDRAWAL: "dass und wie sie die Einwilligung widerrufen kann",
}
_DECLINE_LABELS_DE = {
    DeclineReason.OERTLICH_UNZUSTAENDIG: "örtlich unzuständig",
    DeclineReason.SACHLICH_UNZUSTAENDIG: "sachlich unzuständig",
    DeclineReason.NICHT_ANSPRUCHSBERECHTIGT: "nicht anspruchsberechtigt",
    DeclineReason.KEINE_KAPAZITAET: "keine Kapazität",
    DeclineReason.NICHT_ERREICHBAR: "nicht erreichbar",
    DeclineReason.KLIENT_LEHNT_AB: "Klient*in lehnt ab",
    DeclineReason.UNTERLAGEN_FEHLEN: "Unterlagen fehlen",
    DeclineReason.EINWILLIGUNG_FEHLT: "Einwilligung fehlt",
    DeclineReason.DUPLIKAT: "Duplikat",
    DeclineReason.SONSTIGES: "sonstiges",
}
