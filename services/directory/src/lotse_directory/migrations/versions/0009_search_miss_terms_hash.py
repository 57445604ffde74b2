"""searches that found nothing keep their words only once they were searched often enough: terms_hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lotse_search_miss") as batch:
        batch.add_column(sa.Column("terms_hash", sa.String(64), nullable=True, comment="keyed hash of the words"))
        batch.alter_column("terms", existing_type=sa.Text(), nullable=True, comment="the words, once searched often")
        batch.create_index("ix_lotse_search_miss_terms_hash", ["terms_hash"])


def downgrade() -> None:
    op.execute("DELETE FROM lotse_search_miss WHERE terms IS NULL")
    with op.batch_alter_table("lotse_search_miss") as batch:
        batch.drop_index("ix_lotse_search_miss_terms_hash")
        batch.alter_column("terms", existing_type=sa.Text(), nullable=False, comment="the query's words, lowercased")
        batch.drop_column("terms_hash")
