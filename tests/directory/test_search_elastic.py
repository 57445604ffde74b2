"""What only the Elasticsearch backend promises: the same German analysis as the embedded index,
a rebuild that swaps the alias, writes that cannot go back in time, nothing lost when the broker is
down or the index is gone. Real engines: osmem-server, PostgreSQL, RabbitMQ and the worker process."""

import dataclasses
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from lotse_directory import create_app
from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer
from lotse_directory.adapters.search.elastic import connect
from lotse_directory.bootstrap import Container, build
from lotse_directory.domain.search.analysis import analyze
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.use_cases.demo import demo_document

from tests.directory.conftest import Api, ScaleSearch


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("name", "alternate_name", "description", "title", "department") and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def test_embedded_analysis_equals_the_engines_german_analyzer(elasticsearch_url: str) -> None:
    """Every text of the NRW demo data, and words chosen for the hard cases, give the same terms."""
    texts = sorted(set(_texts(demo_document(packaged_gazetteer()))))
    texts += [
        "Muenchen München MÜNCHEN İstanbul",
        "Straße Strasse 12a",
        "Häuser Hauser Hausern Ärztin Ärzte",
        "SGB II/III SGB_VIII",
        "z.B. Kita's O'Neill O’Neill",
        "1.5 Stunden, 3,5 km",
        "E-Mail an info@caritas.de",
        "_x_ __ a__b",
    ]
    assert len(texts) > 300
    client = connect(elasticsearch_url)
    differences = []
    for text in texts:
        answer = client.indices.analyze(analyzer="german", text=text)
        engine: list[str | None] = []
        for token in answer["tokens"]:
            engine += [None] * (token["position"] - len(engine))  # a stop word's gap
            engine.append(token["token"])
        ours = analyze(text)
        while ours and ours[-1] is None:  # trailing stop words leave no trace in the engine's positions
            ours.pop()
        if ours != engine:
            differences.append((text, ours, engine))
    assert differences == []


def _api(container: Container) -> Api:
    return Api(create_app(container.settings, container).test_client(), container)


def _found(api: Api, scale: ScaleSearch, q: str) -> list[str]:
    scale.settle()
    response = api.client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200, response.json
    return [hit["name"] for hit in response.json["contents"]]


@pytest.fixture
def scale(scale_search: ScaleSearch) -> ScaleSearch:
    scale_search.reset()
    return scale_search


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_rebuild_fills_a_new_index_and_swaps_the_alias(scale: ScaleSearch) -> None:
    api = _api(scale.container)
    org = api.create("organizations", {"name": "Diakonie Hagen (Test)", "description": "x"})
    for name in ("Migrationsberatung für Erwachsene", "Jugendmigrationsdienst", "Sprachcafé"):
        api.create("services", {"organization_id": org["id"], "name": name, "status": "active"})
    assert _found(api, scale, "Diakonie") != []
    index, indexer = scale.container.search_index, scale.container.indexer
    assert index is not None and indexer is not None
    before = index.current()

    done = indexer.rebuild()

    assert index.current() == [done.index] and done.index not in before
    assert done.offers == 3 and done.dropped == before
    assert sorted(_found(api, scale, "Diakonie")) == sorted(
        ["Migrationsberatung für Erwachsene", "Jugendmigrationsdienst", "Sprachcafé"]
    )

    index.drop(index.current())  # the index is lost: searches fail clearly, the database still has everything
    response = api.client.get("/api/v1/search", query_string={"q": "Diakonie"})
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    indexer.rebuild()
    assert len(_found(api, scale, "Diakonie")) == 3


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_an_older_version_never_overwrites_a_newer_one(scale: ScaleSearch) -> None:
    index = scale.container.search_index
    assert index is not None
    new = SearchDocument("svc-1", "org-1", {"name": "Neuer Name"}, verified_on=date(2026, 1, 1))
    old = SearchDocument("svc-1", "org-1", {"name": "Alter Name"})
    index.write({"svc-1": (5, new)}, refresh=True)
    index.write({"svc-1": (4, old)}, refresh=True)  # a slow job with an older state: skipped, no error
    index.write({"svc-1": (5, new)}, refresh=True)  # the same job twice: idempotent
    hits = scale.container.search_index.client.search(index=index.alias, query={"match": {"name": "name"}})
    assert [h["_source"]["name"] for h in hits["hits"]["hits"]] == ["Neuer Name"]
    index.write({"svc-1": (3, None)}, refresh=True)  # an old delete does not remove the newer document
    assert index.client.count(index=index.alias)["count"] == 1
    index.write({"svc-1": (6, None)}, refresh=True)
    assert index.client.count(index=index.alias)["count"] == 0


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_changes_made_while_the_broker_is_down_are_indexed_by_the_sweep(scale: ScaleSearch) -> None:
    settings = dataclasses.replace(scale.container.settings, celery_broker_url="amqp://guest:guest@127.0.0.1:1//")
    offline = build(settings)  # same database and index; its jobs cannot be sent
    api = _api(offline)
    org = api.create("organizations", {"name": "Caritas Bochum (Test)", "description": "x"})
    started = time.monotonic()
    api.create("services", {"organization_id": org["id"], "name": "Schuldnerberatung", "status": "active"})
    assert time.monotonic() - started < 10  # the change is committed; the request does not hang on the broker
    with offline.store.transaction() as session:
        assert len(session.indexing_due()) == 1  # due, not lost
    assert offline.indexer is not None
    assert offline.indexer.catch_up() == 1  # what the worker's sweep runs every minute
    assert _found(api, scale, "Schuldnerberatung") == ["Schuldnerberatung"]
    offline.engine.dispose()
