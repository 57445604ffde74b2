"""the authorities among the organisations, by name: a partial index

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTHORITY = sa.text("authority_for IS NOT NULL AND CAST(authority_for AS TEXT) NOT IN ('[]', 'null')")


def upgrade() -> None:
    op.create_index(
        "ix_organization_authorities",
        "organization",
        ["name"],
        sqlite_where=_AUTHORITY,
        postgresql_where=_AUTHORITY,
    )


def downgrade() -> None:
    op.drop_index("ix_organization_authorities", table_name="organization")
