"""login attempts: wrong passwords in a row per login, and until when a login is refused after too many

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lotse_login_attempt",
        sa.Column("login", sa.String(length=64), nullable=False, comment="as typed, whether a user has it or not"),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_lotse_login_attempt")),
        comment="Embedded mode's logins: failed attempts in a row, and until when a login is refused after too many",
    )


def downgrade() -> None:
    op.drop_table("lotse_login_attempt")
