"""who may declare who is responsible: organisations marked as authorities, jurisdictions declared and,
where they would take over, confirmed by a second person; the regions a user keeps

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECLARATION = ("status", "declared_by", "declared_by_name", "confirmed_by", "confirmed_by_name", "confirmed_at")


def upgrade() -> None:
    with op.batch_alter_table("organization") as batch:
        batch.add_column(sa.Column("authority_for", sa.JSON(), nullable=True))
    with op.batch_alter_table("jurisdiction") as batch:
        for name in _DECLARATION:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True))
    with op.batch_alter_table("lotse_user") as batch:
        batch.add_column(
            sa.Column("regions", sa.JSON(), nullable=True, comment="region keys whose jurisdictions the user keeps")
        )
    # what was there is what routing used: confirmed, declared by whoever verified it
    op.execute(
        "UPDATE jurisdiction SET status = 'confirmed', declared_by = verified_by, declared_by_name = verified_by"
    )
    # the organisations that held a jurisdiction are the authorities of its legal domain
    bind = op.get_bind()
    held: dict[str, set[str]] = {}
    for org, domain in bind.execute(sa.text("SELECT organization_id, legal_domain FROM jurisdiction")):
        held.setdefault(org, set()).add(domain)
    organization = sa.table("organization", sa.column("id", sa.String), sa.column("authority_for", sa.JSON))
    for org, domains in held.items():
        bind.execute(organization.update().where(organization.c.id == org).values(authority_for=sorted(domains)))


def downgrade() -> None:
    with op.batch_alter_table("lotse_user") as batch:
        batch.drop_column("regions")
    with op.batch_alter_table("jurisdiction") as batch:
        for name in reversed(_DECLARATION):
            batch.drop_column(name)
    with op.batch_alter_table("organization") as batch:
        batch.drop_column("authority_for")
