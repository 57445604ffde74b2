"""routing schema: referrals, consents, history, reminders, audit log, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:44:27.153154
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "consent",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("form", sa.String(length=30), nullable=False),
        sa.Column("recipient_organization_id", sa.String(length=64), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("sealed_with", sa.String(length=12), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_sealed_with"), ["sealed_with"], unique=False)

    op.create_table(
        "lotse_outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("routing_key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_lotse_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_lotse_outbox_id")),
    )
    with op.batch_alter_table("lotse_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lotse_outbox_published_at"), ["published_at"], unique=False)

    op.create_table(
        "referral",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("forwarded_to_id", sa.String(length=36), nullable=True),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("legal_domain", sa.String(length=20), nullable=False),
        sa.Column("region_key", sa.String(length=12), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("place_name", sa.String(length=200), nullable=False),
        sa.Column("residence_of", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("held_from", sa.String(length=20), nullable=True),
        sa.Column("sender_organization_id", sa.String(length=64), nullable=False),
        sa.Column("sender_subject", sa.String(length=200), nullable=False),
        sa.Column("recipient_organization_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_name", sa.String(length=300), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("decline_reason", sa.String(length=40), nullable=True),
        sa.Column("first_received_on", sa.Date(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("sealed_with", sa.String(length=12), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consent.id"], name=op.f("fk_referral_consent_id_consent")),
        sa.ForeignKeyConstraint(
            ["forwarded_to_id"], ["referral.id"], name=op.f("fk_referral_forwarded_to_id_referral")
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["referral.id"], name=op.f("fk_referral_parent_id_referral")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index("ix_referral_recipient", ["recipient_organization_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_sealed_with"), ["sealed_with"], unique=False)
        batch_op.create_index("ix_referral_sender", ["sender_organization_id", "status"], unique=False)

    op.create_table(
        "referral_history",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("status_before", sa.String(length=20), nullable=True),
        sa.Column("status_after", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("actor_subject", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("actor_organization_id", sa.String(length=64), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("sealed_with", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_history_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_referral_history")),
    )
    with op.batch_alter_table("referral_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_history_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "reminder",
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referral.id"], name=op.f("fk_reminder_referral_id_referral")),
        sa.PrimaryKeyConstraint("referral_id", "kind", name=op.f("pk_reminder")),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_open", ["done_at", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_open")

    op.drop_table("reminder")
    with op.batch_alter_table("referral_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_history_referral_id"))

    op.drop_table("referral_history")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_sender")
        batch_op.drop_index(batch_op.f("ix_referral_sealed_with"))
        batch_op.drop_index("ix_referral_recipient")
        batch_op.drop_index(batch_op.f("ix_referral_consent_id"))

    op.drop_table("referral")
    with op.batch_alter_table("lotse_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lotse_outbox_published_at"))

    op.drop_table("lotse_outbox")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_sealed_with"))
        batch_op.drop_index(batch_op.f("ix_consent_organization_id"))

    op.drop_table("consent")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_referral_id"))

    op.drop_table("audit_log")
