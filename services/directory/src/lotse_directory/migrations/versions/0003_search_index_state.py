"""search index state: which offers the Elasticsearch index has yet to catch up with

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00
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
        "lotse_search_index_state",
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column(
            "version",
            sa.BigInteger(),
            nullable=False,
            comment="counts the changes that affected the offer's document",
        ),
        sa.Column("indexed_version", sa.BigInteger(), nullable=False, comment="the version the search index holds"),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_lotse_search_index_state")),
        comment="Scale mode: which offers the Elasticsearch index has yet to catch up with (version > indexed_version)",
    )


def downgrade() -> None:
    op.drop_table("lotse_search_index_state")
