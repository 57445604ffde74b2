"""local accounts: a user's password, as an Argon2id hash (embedded mode's login)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lotse_user") as batch:
        batch.add_column(
            sa.Column(
                "password_hash",
                sa.Text(),
                nullable=True,
                comment="embedded mode: Argon2id hash of the user's password (none: no login)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("lotse_user") as batch:
        batch.drop_column("password_hash")
