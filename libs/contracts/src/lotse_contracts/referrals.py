"""What the services say about referrals: their states, the events of their lifecycle, decline reasons.

The lifecycle is docs/architecture.md's (section Referral lifecycle). Events carry no personal data: the client's
name, birth date and contact, the free-text reason and any "sonstiges" text stay in the routing
service and are fetched over its authenticated API.
"""

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
