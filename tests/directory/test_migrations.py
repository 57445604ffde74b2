"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lotse_directory.adapters.storage.tables import is_declared, metadata
from lotse_directory.bootstrap import Container, build
from lotse_directory.entrypoints.cli import CLI_ADMIN
from lotse_directory.settings import Settings
from lotse_directory.use_cases.demo import demo_document
from lotse_kit.sql import downgrade, upgrade


def test_migrated_database_matches_the_tables_in_code(container: Container) -> None:
    with container.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": is_declared}), metadata)
    assert diff == []


def test_migrations_step_down_and_up_again_keeping_the_embedded_index(tmp_path: Path) -> None:
    """Each step back to the first search migration and up again keeps what the index holds."""
    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": "s" * 40}))
    container.migrate()
    container.exchange.import_json(CLI_ADMIN, demo_document(container.gazetteer))
    tables = ("search_doc", "search_point", "search_region", "search_hours", "search_text")

    def index() -> dict[str, list[tuple[object, ...]]]:
        with container.engine.connect() as conn:
            return {t: sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t}")) for t in tables}

    before = index()
    assert all(before.values())
    for step in ("0005", "0004", "0003", "0002"):
        downgrade("lotse_directory", container.engine, step)
        upgrade("lotse_directory", container.engine)
        assert index() == before, step
    test_migrated_database_matches_the_tables_in_code(container)
