"""search: the embedded search index (SQLite FTS5) and the log of searches that found nothing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The embedded index exists only in SQLite databases (scale mode searches Elasticsearch).
# Terms are analysed in Python (lotse_directory.domain.search.analysis) and stored space-separated;
# FTS5 must keep the characters a term may contain (sgb_ii, z.b, kita's, 3,5) inside it.
EMBEDDED_INDEX = [
    """CREATE TABLE search_doc (
        rowid INTEGER PRIMARY KEY,
        service_id TEXT NOT NULL UNIQUE,
        organization_id TEXT NOT NULL,
        verified_on TEXT,
        closed_on_holidays INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX ix_search_doc_organization ON search_doc (organization_id)",
    """CREATE VIRTUAL TABLE search_text USING fts5(
        name, organization, topics, roles, description,
        tokenize = "unicode61 remove_diacritics 0 tokenchars '_.,;:''·’'", detail = full)""",
    "CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_text, 'row')",
    """CREATE TABLE search_facet (
        doc INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (facet, value, doc)) WITHOUT ROWID""",
    "CREATE INDEX ix_search_facet_doc ON search_facet (doc)",
    """CREATE TABLE search_point (
        doc INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, public INTEGER NOT NULL)""",
    "CREATE INDEX ix_search_point_doc ON search_point (doc)",
    "CREATE INDEX ix_search_point_lat ON search_point (lat, lon)",
    """CREATE TABLE search_region (
        doc INTEGER NOT NULL, ags TEXT NOT NULL, PRIMARY KEY (ags, doc)) WITHOUT ROWID""",
    "CREATE INDEX ix_search_region_doc ON search_region (doc)",
    """CREATE TABLE search_hours (
        doc INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
        valid_from TEXT, valid_to TEXT)""",
    "CREATE INDEX ix_search_hours_doc ON search_hours (doc)",
    'CREATE INDEX ix_search_hours_start ON search_hours (start, "end")',
]


def upgrade() -> None:
    op.create_table(
        "lotse_search_miss",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False, comment="when, to the hour"),
        sa.Column("terms", sa.Text(), nullable=False, comment="the query's words, lowercased"),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column(
            "region_key", sa.String(length=12), nullable=True, comment="Gemeinde key (AGS) of the place searched near"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lotse_search_miss")),
    )
    op.create_index(op.f("ix_lotse_search_miss_hour"), "lotse_search_miss", ["hour"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for statement in EMBEDDED_INDEX:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in (
            "search_hours",
            "search_region",
            "search_point",
            "search_facet",
            "search_vocab",
            "search_text",
            "search_doc",
        ):
            op.execute(f"DROP TABLE IF EXISTS {table}")
    op.drop_index(op.f("ix_lotse_search_miss_hour"), table_name="lotse_search_miss")
    op.drop_table("lotse_search_miss")
