"""PostgreSQL's own search index (ADR 15): filled at upgrade from the offers already stored, emptied at upgrade
while Elasticsearch serves, and written by concurrent changes of one offer without either failing. What it
finds: the conformance suite."""

import threading

import pytest
from lotse_directory import create_app
from lotse_directory.adapters.search import postgres_fts
from lotse_directory.bootstrap import Container
from lotse_directory.domain.search.documents import Point, SearchDocument
from sqlalchemy import text

from tests.directory.conftest import Api, ScaleSearch, _reset

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(postgres_container: Container) -> Api:
    _reset(postgres_container)
    return Api(create_app(postgres_container.settings, postgres_container).test_client(), postgres_container)


def _found(api: Api, q: str) -> list[str]:
    response = api.client.get("/api/v1/search", query_string={"q": q})
    body = response.json
    assert response.status_code == 200 and body is not None, body
    return [hit["name"] for hit in body["contents"]]


def test_upgrade_fills_an_empty_index_from_the_stored_offers(pg_api: Api) -> None:
    org = pg_api.create("organizations", {"name": "Diakonie Witten (Test)", "description": "x"})
    pg_api.create("services", {"organization_id": org["id"], "name": "Schuldnerberatung", "status": "active"})
    assert _found(pg_api, "Schuldnerberatung") == ["Schuldnerberatung"]
    with pg_api.container.engine.begin() as conn:
        postgres_fts.clear(conn)  # as after migration 0017 on a directory that had no search
    assert _found(pg_api, "Schuldnerberatung") == []

    pg_api.container.migrate()

    assert _found(pg_api, "Schuldnerberatung") == ["Schuldnerberatung"]
    assert _found(pg_api, "Schuldnerberatnug") == ["Schuldnerberatung"]  # its terms, for typos, too


def test_two_changes_of_one_offer_at_once_both_commit(postgres_container: Container) -> None:
    """The second writer waits for the first and then replaces its entry: no duplicate key, no lost places."""
    _reset(postgres_container)
    engine = postgres_container.engine

    def document(lat: float) -> SearchDocument:
        return SearchDocument("s-1", "o-1", {"name": "Sprachcafé"}, points=[Point(lat, 7.3, True, "l-1")])

    errors: list[BaseException] = []
    with engine.begin() as first:
        postgres_fts.write_documents(first, {"s-1": document(51.0)})

        def second() -> None:
            try:
                with engine.begin() as conn:
                    postgres_fts.write_documents(conn, {"s-1": document(52.0)})
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # it waits for the first transaction's row
    thread.join(10)
    assert errors == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT service_id, lat FROM pg_search_point")).all()
        docs = conn.execute(text("SELECT count(*) FROM pg_search_doc")).scalar_one()
    assert (docs, [tuple(r) for r in rows]) == (1, [("s-1", 52.0)])


@pytest.mark.rabbitmq
def test_upgrade_empties_the_index_while_elasticsearch_serves(scale_search: ScaleSearch) -> None:
    """Changes made while Elasticsearch serves do not reach PostgreSQL's index: it is emptied, so that it is
    filled anew at the upgrade after Elasticsearch is switched off, not left stale."""
    container = scale_search.container
    with container.engine.begin() as conn:
        postgres_fts.write_documents(conn, {"s-1": SearchDocument("s-1", "o-1", {"name": "Sprachcafé"})})
        assert not postgres_fts.index_is_empty(conn)

    container.migrate()

    with container.engine.connect() as conn:
        assert postgres_fts.index_is_empty(conn)
