"""What an operator's probes and Prometheus read from each service: ``/ready`` red until the schema is current,
red naming the broker or the search engine that does not answer, green otherwise; ``/metrics`` counting
requests by route (never by id) and status, and the figures read from the database."""

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier

from tests.conftest import free_port, metric_samples

SECRET = "operability-test-secret-" + "o" * 40


def _service(name: str, var: Path, extra: dict[str, str] | None = None) -> tuple[Any, Flask]:
    env = {"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET, **(extra or {})}
    if name == "directory":
        from lotse_directory import create_app
        from lotse_directory.bootstrap import build
        from lotse_directory.settings import Settings

        directory = build(Settings.from_env(env))
        return directory, create_app(directory.settings, directory)
    if name == "routing":
        from lotse_routing import create_app as create_routing
        from lotse_routing.bootstrap import build as build_routing
        from lotse_routing.settings import Settings as RoutingSettings

        routing = build_routing(RoutingSettings.from_env({**env, "LOTSE_ROUTING_DIRECTORY_URL": "http://127.0.0.1:9"}))
        return routing, create_routing(routing.settings, routing)
    from lotse_notify.bootstrap import build as build_notify
    from lotse_notify.entrypoints.web import create_app as create_notify
    from lotse_notify.settings import Settings as NotifySettings

    notify = build_notify(NotifySettings.from_env(env))
    return notify, create_notify(notify.settings, notify)


@pytest.mark.parametrize("name", ["directory", "routing", "notify"])
def test_ready_waits_for_the_schema_and_metrics_count_requests_by_route(name: str, tmp_path: Path) -> None:
    container, app = _service(name, tmp_path)
    client = app.test_client()
    before = metric_samples(client.get("/metrics").data)  # counters are the process's: other tests' requests too
    answer = client.get("/ready")
    assert answer.status_code == 503 and answer.content_type == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert [e["name"] for e in answer.json["errors"]] == ["schema"] and answer.json["checks"]["database"] == "ok"
    assert f"lotse-{name} db upgrade" in answer.json["errors"][0]["reason"]
    failing = metric_samples(client.get("/metrics").data)  # no tables yet: the process's own figures still come
    assert failing["lotse_metrics_collector_errors"] >= 1

    container.migrate()
    answer = client.get("/ready")
    assert answer.status_code == 200
    assert answer.json == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}
    for _ in range(3):
        assert client.get("/health").status_code == 200
    unknown = "/api/v1/referrals/7f0c5a9e-2b1d-4c3e-9f8a-0123456789ab" if name == "routing" else "/api/v1/nichts"
    client.get(unknown)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain")
    samples = metric_samples(metrics.data)

    def counted(key: str) -> float:
        return samples[key] - before.get(key, 0)

    assert counted(f'lotse_http_requests_total{{method="GET",route="/health",service="{name}",status="200"}}') == 3
    assert counted(f'lotse_http_requests_total{{method="GET",route="/ready",service="{name}",status="503"}}') == 1
    assert counted(f'lotse_http_request_duration_seconds_count{{method="GET",route="/health",service="{name}"}}') == 3
    assert not any("7f0c5a9e" in key for key in samples)  # a route's rule, never the id asked for
    assert samples[f'lotse_outbox_pending{{service="{name}"}}'] == 0
    assert samples[f'lotse_outbox_oldest_pending_age_seconds{{service="{name}"}}'] == 0
    assert samples["lotse_metrics_collector_errors"] == 0
    if name == "routing":
        assert samples['lotse_routing_reminders{state="due"}'] == 0
        assert samples['lotse_routing_reminders{state="overdue"}'] == 0
    if name == "notify":
        states = {k for k in samples if k.startswith("lotse_notify_deliveries{")}
        assert {s.split('"')[1] for s in states} == {"pending", "delivering", "delivered", "failed", "dead"}


def test_the_directory_counts_searches_that_found_nothing_and_events_waiting_in_its_outbox(tmp_path: Path) -> None:
    container, app = _service("directory", tmp_path)
    container.migrate()
    client = app.test_client()
    assert client.get("/api/v1/search?q=Zyxwvut").json["total_items"] == 0
    admin = {"Authorization": f"Bearer {HmacTokenVerifier(SECRET).issue('admin-1', Role.ADMIN, None, 'Admin')}"}
    organization = {"name": "Beratungsstelle Witten", "description": "Beratung"}
    made = client.post("/api/v1/organizations", json=organization, headers=admin)
    assert made.status_code == 201, made.json  # its event waits in the outbox: no relay runs in this test
    samples = metric_samples(client.get("/metrics").data)
    assert samples["lotse_search_zero_results_total"] >= 1
    assert samples["lotse_search_duration_seconds_count"] >= 1
    assert samples['lotse_outbox_pending{service="directory"}'] == 1
    assert samples['lotse_outbox_oldest_pending_age_seconds{service="directory"}'] > 0


@pytest.mark.parametrize("name", ["directory", "routing", "notify"])
def test_a_broker_that_does_not_answer_turns_ready_red(name: str, tmp_path: Path) -> None:
    broker = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    container, app = _service(name, tmp_path, {"LOTSE_AMQP_URL": broker})
    container.migrate()
    answer = app.test_client().get("/ready")
    assert answer.status_code == 503, answer.json
    assert [e["name"] for e in answer.json["errors"]] == ["broker"]
    assert answer.json["checks"] == {"database": "ok", "schema": "ok", "broker": answer.json["errors"][0]["reason"]}


@pytest.mark.rabbitmq
def test_the_directory_is_ready_once_its_search_index_exists(
    tmp_path: Path, elasticsearch_url: str, rabbitmq_url: str
) -> None:
    extra = {
        "ELASTICSEARCH_URL": elasticsearch_url,
        "LOTSE_DIRECTORY_ELASTICSEARCH_INDEX": f"lotse-ready-{tmp_path.name.lower()}",
        "LOTSE_DIRECTORY_CELERY_BROKER_URL": rabbitmq_url,
    }
    container, app = _service("directory", tmp_path, extra)
    container.migrate()
    client = app.test_client()
    answer = client.get("/ready")
    assert answer.status_code == 503 and [e["name"] for e in answer.json["errors"]] == ["search"], answer.json
    assert "search rebuild" in answer.json["errors"][0]["reason"]
    container.indexer.rebuild()
    try:
        answer = client.get("/ready")
        assert answer.status_code == 200, answer.json
        assert answer.json["checks"] == {"database": "ok", "schema": "ok", "search": "ok", "job broker": "ok"}
        assert "lotse_directory_index_backlog" in metric_samples(client.get("/metrics").data)
    finally:
        container.search_index.drop(container.search_index.current())
