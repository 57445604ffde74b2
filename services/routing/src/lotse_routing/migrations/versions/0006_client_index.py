"""referral.client_index: a keyed hash (blind index) of the client's normalised name and birth date, to find
every referral about one person when they ask what is held on them (DSGVO Art. 15); filled for the referrals
stored before by ``lotse-routing db upgrade``, emptied with the client's data

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral") as batch:
        batch.add_column(sa.Column("client_index", sa.String(64)))
        batch.create_index("ix_referral_client_index", ["client_index"])


def downgrade() -> None:
    with op.batch_alter_table("referral") as batch:
        batch.drop_index("ix_referral_client_index")
        batch.drop_column("client_index")
