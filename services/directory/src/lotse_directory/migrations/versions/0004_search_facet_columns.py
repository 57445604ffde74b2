"""embedded index: each offer's facet values in columns of its search_doc row (one scan counts them)

Facet counts joined a table of (doc, facet, value) rows to the matching offers; SQLite drove that
join from the facet rows, so every search paid for the whole directory. The values now sit in the
offer's own row, delimited by U+001F, and are counted from the matching offers alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACETS = ("legal_domain", "topic", "language", "target_group")
SEP = "char(31)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for facet in FACETS:
        op.execute(f"ALTER TABLE search_doc ADD COLUMN f_{facet} TEXT NOT NULL DEFAULT ''")
        op.execute(
            f"UPDATE search_doc SET f_{facet} = {SEP} || coalesce(("  # noqa: S608 -- constants only
            f"SELECT group_concat(value, {SEP}) || {SEP} FROM (SELECT value FROM search_facet "
            f"WHERE doc = search_doc.rowid AND facet = '{facet}' ORDER BY value)), '')"
        )
    op.execute("DROP TABLE search_facet")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        """CREATE TABLE search_facet (
        doc INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (facet, value, doc)) WITHOUT ROWID"""
    )
    op.execute("CREATE INDEX ix_search_facet_doc ON search_facet (doc)")
    for facet in FACETS:
        op.execute(
            "WITH RECURSIVE split(doc, rest, value) AS ("  # noqa: S608 -- constants only
            f"SELECT rowid, substr(f_{facet}, 2), NULL FROM search_doc "
            f"UNION ALL SELECT doc, substr(rest, instr(rest, {SEP}) + 1), substr(rest, 1, instr(rest, {SEP}) - 1) "
            "FROM split WHERE rest != '') "
            f"INSERT INTO search_facet (doc, facet, value) SELECT doc, '{facet}', value FROM split WHERE value IS NOT NULL"
        )
        op.execute(f"ALTER TABLE search_doc DROP COLUMN f_{facet}")
