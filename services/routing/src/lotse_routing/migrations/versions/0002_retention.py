"""retention: clients' data erased after the retention period (sealed columns may be empty)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("sealed", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("sealed_with", existing_type=sa.String(length=12), nullable=True)
        batch_op.create_index("ix_referral_retention", ["erased_at", "closed_at"], unique=False)
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.alter_column("sealed", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("sealed_with", existing_type=sa.String(length=12), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.alter_column("sealed_with", existing_type=sa.String(length=12), nullable=False)
        batch_op.alter_column("sealed", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_retention")
        batch_op.alter_column("sealed_with", existing_type=sa.String(length=12), nullable=False)
        batch_op.alter_column("sealed", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("erased_at")
