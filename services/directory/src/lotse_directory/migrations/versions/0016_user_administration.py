"""users administered in the browser: e-mail for the invitation, active (deactivated: no login), and the
nonce of the open invitation or password-reset link (a link is used once)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lotse_user") as batch:
        batch.add_column(
            sa.Column(
                "email", sa.Text(), nullable=True, comment="where an admin sends the user's invitation (optional)"
            )
        )
        batch.add_column(
            sa.Column(
                "active",
                sa.Boolean(),
                server_default=sa.true(),
                nullable=False,
                comment="false: deactivated, no login",
            )
        )
        batch.add_column(
            sa.Column(
                "password_link",
                sa.String(length=64),
                nullable=True,
                comment="the nonce of the user's open invitation or reset link",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("lotse_user") as batch:
        batch.drop_column("password_link")
        batch.drop_column("active")
        batch.drop_column("email")
