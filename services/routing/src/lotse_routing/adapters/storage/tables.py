"""The routing database: referrals, their history, consents, reminders, the audit log and the outbox.

What could name the client (name, birth date, contact, the free-text reason, notes, outcomes, who gave
consent) is kept only sealed (:mod:`lotse_kit.sealing`), in the ``sealed`` columns, with the
id of the key that sealed it in ``sealed_with``; ``referral.client_index`` is a keyed hash of the client's
normalised name and birth date, to find a person's referrals (DSGVO Art. 15) without opening every row. After
the retention period, or on the person's request, all three are emptied (``referral.erased_at`` says when);
what aggregates need stays.
"""

from lotse_kit.feed import feed_cursor_table
from lotse_kit.outbox import outbox_table
from lotse_kit.sql import UtcDateTime, named_metadata
from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text, false

metadata = named_metadata()

ID = 36  # a UUID's text

consent = Table(
    "consent",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(64), nullable=False, index=True),  # the case managers' that recorded it
    Column("recorded_by", String(200), nullable=False),
    Column("given_at", UtcDateTime(), nullable=False),
    Column("form", String(30), nullable=False),
    Column("recipient_organization_id", String(64), nullable=False),
    Column("data_categories", JSON, nullable=False),
    Column("onward_transfer", Boolean, nullable=False, server_default=false()),  # may go on to the competent body
    Column("given_by_role", String(20)),  # client, custodian, representative (None: recorded before 0005)
    Column("informed_of", JSON),  # what the client was told (SGB X § 67b Abs. 2); None: recorded before 0005
    Column("sealed", Text),  # who gave consent; emptied once every referral resting on it is erased
    Column("sealed_with", String(12), index=True),
    Column("withdrawn_at", UtcDateTime()),
    Column("withdrawn_by", String(200)),
    Column("created_at", UtcDateTime(), nullable=False),
)

referral = Table(
    "referral",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("parent_id", String(ID), ForeignKey("referral.id")),
    Column("forwarded_to_id", String(ID), ForeignKey("referral.id")),
    Column("consent_id", String(ID), ForeignKey("consent.id"), nullable=False, index=True),
    Column("legal_domain", String(20), nullable=False),
    Column("region_key", String(12), nullable=False),
    Column("postal_code", String(5)),
    Column("place_name", String(200), nullable=False),
    Column("residence_of", String(20), nullable=False),
    Column("topic", String(200)),
    Column("language", String(10)),
    Column("urgency", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("held_from", String(20)),
    Column("sender_organization_id", String(64), nullable=False),
    Column("sender_subject", String(200), nullable=False),
    Column("recipient_organization_id", String(64), nullable=False),
    Column("recipient_name", String(300), nullable=False),
    Column("decision", JSON, nullable=False),  # jurisdiction, rule, source, verified-on date, office
    Column("explanation", Text, nullable=False),
    Column("decline_reason", String(40)),
    Column("first_received_on", Date),  # a forwarded referral keeps its parent's (SGB I § 16)
    Column("requested_at", UtcDateTime()),
    Column("acknowledged_at", UtcDateTime()),
    Column("accepted_at", UtcDateTime()),
    Column("closed_at", UtcDateTime()),
    Column("sealed", Text),  # the client's data and the reason; empty once erased
    Column("sealed_with", String(12), index=True),
    Column("client_index", String(64), index=True),  # blind index of the client's name and birth date; ditto
    Column("erased_at", UtcDateTime()),
    Column("revision", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_referral_recipient", "recipient_organization_id", "status"),
    Index("ix_referral_sender", "sender_organization_id", "status"),
    Index("ix_referral_retention", "erased_at", "closed_at"),
)

history = Table(
    "referral_history",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(ID), ForeignKey("referral.id"), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(30), nullable=False),
    Column("status_before", String(20)),
    Column("status_after", String(20), nullable=False),
    Column("side", String(10), nullable=False),
    Column("actor_subject", String(200), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("actor_organization_id", String(64)),
    Column("reason_code", String(40)),
    Column("sealed", Text),  # the note, outcome or "sonstiges" text, if one was given
    Column("sealed_with", String(12)),
)

reminder = Table(
    "reminder",
    metadata,
    Column("referral_id", String(ID), ForeignKey("referral.id"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime()),
    Column("fired", Boolean, nullable=False, default=False),
    Index("ix_reminder_open", "done_at", "due_at"),
)

audit = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("organization_id", String(64)),
    Column("action", String(30), nullable=False),
    Column("referral_id", String(ID), index=True),
    Column("consent_id", String(ID)),
    Column("allowed", Boolean, nullable=False),
)

notification_report = Table(
    "notification_report",
    metadata,
    Column("delivery_id", String(ID), primary_key=True),  # a report heard twice is kept once
    Column("referral_id", String(ID), ForeignKey("referral.id"), nullable=False, index=True),
    Column("organization_id", String(64), nullable=False),  # who was told
    Column("side", String(10), nullable=False),
    Column("channel_kind", String(10), nullable=False),
    Column("referral_event", String(40), nullable=False),  # what it was told of
    Column("outcome", String(30), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

feed_cursor = feed_cursor_table(metadata)  # where routing is in notify's change feed (embedded mode)

outbox = outbox_table(metadata)
