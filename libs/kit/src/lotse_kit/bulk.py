"""Many rows into one table in one go.

SQLAlchemy's executemany binds every value of every row through its type machinery, which costs
more than SQLite itself at import sizes. On SQLite the rows go to the driver directly, each value
bound by the column type's own bind processor, so they are stored exactly as SQLAlchemy stores them.
Other databases get SQLAlchemy's executemany (psycopg batches it well).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` into ``table`` in the caller's transaction: their values of ``columns`` (None where
    a row has none) and the values ``same`` for every row."""
    if not rows:
        return
    same = dict(same or {})
    if conn.dialect.paramstyle != "qmark":
        conn.execute(insert(table), [{**{n: row.get(n) for n in columns}, **same} for row in rows])
        return
    dialect = conn.dialect

    def bind(name: str) -> Any:  # the column type's processor as this dialect binds it (None: as it is)
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    binds = [(n, bind(n)) for n in columns]
    fixed = tuple(v if p is None else p(v) for p, v in ((bind(n), v) for n, v in same.items()))
    if all(p is None for _, p in binds):
        values = [(*(row.get(n) for n in columns), *fixed) for row in rows]
    else:
        values = [(*(row.get(n) if p is None else p(row.get(n)) for n, p in binds), *fixed) for row in rows]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(n) for n in [*columns, *same])
    marks = ", ".join("?" * (len(columns) + len(same)))
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", values)  # noqa: S608
