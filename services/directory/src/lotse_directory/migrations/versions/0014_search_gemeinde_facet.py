"""embedded index: the Gemeinde keys of an offer's public places as a facet column (figures per region)

The coordinators' figures count offers, and those long unconfirmed, per Gemeinde in one search: the
keys sit in the offer's own row like the other facets (search_region keeps them for the region filter).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEP = "char(31)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ALTER TABLE search_doc ADD COLUMN f_gemeinde TEXT NOT NULL DEFAULT ''")
    op.execute(
        f"UPDATE search_doc SET f_gemeinde = {SEP} || coalesce(("  # noqa: S608 -- constants only
        f"SELECT group_concat(ags, {SEP}) || {SEP} FROM (SELECT DISTINCT ags FROM search_region "
        "WHERE doc = search_doc.rowid ORDER BY ags)), '')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ALTER TABLE search_doc DROP COLUMN f_gemeinde")
