"""PostgreSQL's own search index: a directory on PostgreSQL without Elasticsearch searches in PostgreSQL (ADR 15)

One row per offer with its analysed text as a ``tsvector`` (GIN), its facet values as arrays (GIN), its
places by latitude and longitude (a B-tree, see ADR 15), its opening hours; the index's terms with trigrams (``pg_trgm``) for typos.
Written in the change's transaction, like the embedded index; filled at ``db upgrade`` (bootstrap).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE TABLE pg_search_doc (
        service_id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, verified_on DATE,
        closed_on_holidays BOOLEAN NOT NULL, terms TSVECTOR NOT NULL,
        f_legal_domain TEXT[] NOT NULL, f_topic TEXT[] NOT NULL, f_language TEXT[] NOT NULL,
        f_target_group TEXT[] NOT NULL, f_gemeinde TEXT[] NOT NULL)""",
    "CREATE INDEX ix_pg_search_doc_terms ON pg_search_doc USING gin (terms)",
    "CREATE INDEX ix_pg_search_doc_organization ON pg_search_doc (organization_id)",
    "CREATE INDEX ix_pg_search_doc_facets ON pg_search_doc USING gin "
    "(f_legal_domain, f_topic, f_language, f_target_group, f_gemeinde)",
    """CREATE TABLE pg_search_point (
        service_id TEXT NOT NULL REFERENCES pg_search_doc ON DELETE CASCADE,
        lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL, public BOOLEAN NOT NULL)""",
    "CREATE INDEX ix_pg_search_point_lat ON pg_search_point (lat, lon)",
    "CREATE INDEX ix_pg_search_point_service ON pg_search_point (service_id)",
    """CREATE TABLE pg_search_hours (
        service_id TEXT NOT NULL REFERENCES pg_search_doc ON DELETE CASCADE,
        start INTEGER NOT NULL, "end" INTEGER NOT NULL, valid_from DATE, valid_to DATE)""",
    "CREATE INDEX ix_pg_search_hours_service ON pg_search_hours (service_id)",
    "CREATE TABLE pg_search_term (term TEXT PRIMARY KEY)",
    "CREATE INDEX ix_pg_search_term_trigrams ON pg_search_term USING gin (term gin_trgm_ops)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE pg_search_term, pg_search_hours, pg_search_point, pg_search_doc")
