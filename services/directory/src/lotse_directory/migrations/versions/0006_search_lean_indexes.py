"""embedded index: drop the indexes SQL searches used before the index's columns were held in memory

Searches filter, sort and facet in memory now; SQL reads the index tables only by document number
(loading them, replacing an offer's entries). The indexes on organisation, coordinates and opening
times were written for every document of every change and read by nothing. ``search_region`` is keyed
by document first, which makes its separate index on the document number redundant.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNUSED = {
    "ix_search_doc_organization": "search_doc (organization_id)",
    "ix_search_point_lat": "search_point (lat, lon)",
    "ix_search_hours_start": 'search_hours (start, "end")',
}


def _rekey_regions(key: str, index: bool) -> None:
    op.execute(
        f"""CREATE TABLE search_region_new (
        doc INTEGER NOT NULL, ags TEXT NOT NULL, PRIMARY KEY ({key})) WITHOUT ROWID"""
    )
    op.execute("INSERT INTO search_region_new (doc, ags) SELECT doc, ags FROM search_region")
    op.execute("DROP TABLE search_region")
    op.execute("ALTER TABLE search_region_new RENAME TO search_region")
    if index:
        op.execute("CREATE INDEX ix_search_region_doc ON search_region (doc)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _UNUSED:
        op.execute(f"DROP INDEX {name}")
    _rekey_regions("doc, ags", index=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, on in _UNUSED.items():
        op.execute(f"CREATE INDEX {name} ON {on}")
    _rekey_regions("ags, doc", index=True)
