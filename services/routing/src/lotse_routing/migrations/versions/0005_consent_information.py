"""consent.given_by_role and consent.informed_of: who consented (the client, the person with custody, a legal
representative: § 36 SGB I) and what the client was told before (SGB X § 67b Abs. 2: the purpose, the
consequences of refusing, how to withdraw); both empty for consents recorded before

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.add_column(sa.Column("given_by_role", sa.String(20)))
        batch.add_column(sa.Column("informed_of", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.drop_column("informed_of")
        batch.drop_column("given_by_role")
