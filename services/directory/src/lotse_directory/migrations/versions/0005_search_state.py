"""embedded index: a state row that counts its changes and hands out document numbers

A search process keeps the embedded index's columns in memory and must know when they changed
(``version``), when the index was cleared and refilled (``generation``), and that a document number
once used is never given to another document (``next_doc``; numbers were ``max(rowid) + 1`` before,
so a replaced last document could get its old number back).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        """CREATE TABLE search_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            generation INTEGER NOT NULL,
            version INTEGER NOT NULL,
            next_doc INTEGER NOT NULL)"""
    )
    op.execute("INSERT INTO search_state SELECT 1, 1, 1, coalesce(max(rowid), 0) + 1 FROM search_doc")
    op.execute("DROP TABLE search_vocab")  # fuzzy matches look the terms up in memory now


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE search_state")
    op.execute("CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_text, 'row')")
