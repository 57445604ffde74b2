"""notification reports: what notify said of the notifications about a referral; where routing is in
notify's change feed (embedded mode)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_report",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("channel_kind", sa.String(length=10), nullable=False),
        sa.Column("referral_event", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_notification_report_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_notification_report")),
    )
    with op.batch_alter_table("notification_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_report_referral_id"), ["referral_id"], unique=False)
    op.create_table(
        "feed_cursor",
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_feed_cursor")),
    )


def downgrade() -> None:
    op.drop_table("feed_cursor")
    with op.batch_alter_table("notification_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_report_referral_id"))
    op.drop_table("notification_report")
