"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lotse_directory.adapters.storage.tables import is_declared, metadata
from lotse_directory.bootstrap import Container


def test_migrated_database_matches_the_tables_in_code(container: Container) -> None:
    with container.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": is_declared}), metadata)
    assert diff == []
