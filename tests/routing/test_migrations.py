"""Routing's Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and
step down and up again keeping the referrals."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lotse_kit.sql import downgrade, upgrade
from lotse_routing.adapters.storage.tables import metadata, referral
from sqlalchemy import select

from tests.routing.conftest import Api
from tests.routing.test_referrals_api import Walk


def test_migrated_database_matches_the_tables_in_code(api: Api) -> None:
    with api.container.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_migrations_step_down_and_up_again_keeping_the_referrals(api: Api) -> None:
    Walk(api).create()
    engine = api.container.engine

    def stored() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(referral.c.id, referral.c.sealed, referral.c.status))]

    before = stored()
    downgrade("lotse_routing", engine, "0001")  # on SQLite: tables other tables refer to are copied
    upgrade("lotse_routing", engine)
    assert stored() == before
    test_migrated_database_matches_the_tables_in_code(api)
