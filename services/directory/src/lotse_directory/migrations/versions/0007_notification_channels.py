"""notification channels: how an organisation is told of referrals (webhook, e-mail)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lotse_notification_channel",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False, comment="the organisation that is told"),
        sa.Column("kind", sa.String(10), nullable=False, comment="webhook or email"),
        sa.Column("target", sa.Text(), nullable=False, comment="the webhook's URL or the e-mail address"),
        sa.Column(
            "secrets", sa.JSON(), nullable=False, comment="a webhook's secrets, newest first, each with its expiry"
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lotse_revision", sa.Integer(), nullable=False),
        sa.Column("lotse_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lotse_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lotse_notification_channel"),
        comment="How an organisation is told of referrals besides its inbox; not part of the published directory",
    )
    op.create_index("ix_lotse_notification_channel_organization_id", "lotse_notification_channel", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_lotse_notification_channel_organization_id", "lotse_notification_channel")
    op.drop_table("lotse_notification_channel")
