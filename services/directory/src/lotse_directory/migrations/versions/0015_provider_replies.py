"""provider replies: what an offer's provider answered through a signed confirmation link

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lotse_provider_reply",
        sa.Column(
            "link_id",
            sa.String(length=64),
            nullable=False,
            comment="the confirmation link answered (each answers once)",
        ),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column(
            "organization_id",
            sa.String(length=64),
            nullable=False,
            comment="the offer's, when the link was made",
        ),
        sa.Column("kind", sa.String(length=12), nullable=False, comment="confirmed or correction"),
        sa.Column("text", sa.Text(), nullable=True, comment="what the provider says is wrong"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False, comment="the maintainer who made the link"),
        sa.Column(
            "done_at", sa.DateTime(timezone=True), nullable=True, comment="when a maintainer dealt with the correction"
        ),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_lotse_provider_reply")),
        comment="What an offer's provider answered through a signed confirmation link (no account needed)",
    )
    op.create_index(op.f("ix_lotse_provider_reply_service_id"), "lotse_provider_reply", ["service_id"], unique=False)
    op.create_index(
        op.f("ix_lotse_provider_reply_organization_id"), "lotse_provider_reply", ["organization_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_lotse_provider_reply_organization_id"), table_name="lotse_provider_reply")
    op.drop_index(op.f("ix_lotse_provider_reply_service_id"), table_name="lotse_provider_reply")
    op.drop_table("lotse_provider_reply")
