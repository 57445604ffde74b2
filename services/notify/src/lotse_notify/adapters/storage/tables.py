"""The notify database: events taken in, notifications (each organisation's inbox), their deliveries
through webhook and e-mail channels, endpoints gone, endpoints paused, where notify is in routing's change
feed (embedded mode), and the outbox of delivery reports.

No personal data: a notification names a referral by id, its domain, region and status only.
"""

from lotse_kit.feed import feed_cursor_table
from lotse_kit.outbox import outbox_table
from lotse_kit.sql import UtcDateTime, named_metadata
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

metadata = named_metadata()

ID = 36  # a UUID's text

processed_event = Table(
    "processed_event",
    metadata,
    Column("event_id", String(64), primary_key=True),  # an event taken in twice has effect once
    Column("event_type", String(200), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

notification = Table(
    "notification",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("organization_id", String(64), nullable=False),  # whose inbox
    Column("side", String(10), nullable=False),  # recipient or sender of the referral
    Column("referral_id", String(ID), nullable=False),
    Column("legal_domain", String(20), nullable=False),
    Column("region_key", String(12), nullable=False),
    Column("referral_status", String(20), nullable=False),
    Column("urgency", String(10)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime()),
    Column("read_by", String(200)),
    Column("request_id", String(64)),  # of the request that caused the event: its deliveries log it
    UniqueConstraint("event_id", "organization_id"),
    Index("ix_notification_inbox", "organization_id", "read_at", "created_at"),
)

delivery = Table(
    "delivery",
    metadata,
    Column("id", String(ID), primary_key=True),  # also the webhook-id, the same on every attempt
    Column("notification_id", String(ID), ForeignKey("notification.id"), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("channel_revision", Integer, nullable=False),
    Column("kind", String(10), nullable=False),  # webhook or email
    Column("target", String(500), nullable=False),  # the URL or the address
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_due_at", UtcDateTime()),
    Column("lease_until", UtcDateTime()),
    Column("kicked_at", UtcDateTime()),  # when a job was last sent for it
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("notification_id", "channel_id"),
    Index("ix_delivery_due", "state", "next_due_at"),
)

gone_endpoint = Table(
    "gone_endpoint",
    metadata,
    Column("channel_id", String(64), primary_key=True),
    Column("channel_revision", Integer, nullable=False),  # a maintainer's edit (a new revision) revives it
    Column("gone_at", UtcDateTime(), nullable=False),
    Column("detail", Text, nullable=False),
)

endpoint_pause = Table(
    "endpoint_pause",
    metadata,
    Column("target", String(500), primary_key=True),  # a webhook URL that gave no answer
    Column("until", UtcDateTime(), nullable=False),  # deliveries to it wait until then
    Column("failures", Integer, nullable=False),  # attempts without an answer in a row
    Column("since", UtcDateTime(), nullable=False),
    Column("detail", Text, nullable=False),
)

feed_cursor = feed_cursor_table(metadata)  # where notify is in routing's change feed (embedded mode)

outbox = outbox_table(metadata)
