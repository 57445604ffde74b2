"""Directory fixtures: an app on SQLite and on PostgreSQL, tokens for each role."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_directory import create_app
from lotse_directory.bootstrap import Container, build
from lotse_directory.settings import Settings
from lotse_kit.tokens import HmacTokenVerifier
from sqlalchemy import text

SECRET = "test-secret-" + "x" * 40
FIXTURES = Path(__file__).parent / "fixtures"
CLI = str(Path(sys.executable).with_name("lotse-directory"))


@dataclass
class Api:
    """A test client that knows how to send a token for a role and organisation."""

    client: FlaskClient
    container: Container

    def token(self, role: Role, org: str | None = None, sub: str = "user-1") -> dict[str, str]:
        verifier = self.container.verifier
        assert isinstance(verifier, HmacTokenVerifier)
        return {"Authorization": f"Bearer {verifier.issue(sub, role, org, 'Test')}"}

    def admin(self) -> dict[str, str]:
        return self.token(Role.ADMIN, None, "admin-1")

    def create(self, collection: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = self.client.post(f"/api/v1/{collection}", json=body, headers=headers or self.admin())
        assert response.status_code == 201, response.json
        return response.json


def _reset(container: Container) -> None:
    from lotse_directory.adapters.search import postgres_fts, sqlite_fts
    from lotse_directory.adapters.storage.tables import metadata

    with container.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        (sqlite_fts if conn.dialect.name == "sqlite" else postgres_fts).clear(conn)


@pytest.fixture(scope="session")
def sqlite_container(tmp_path_factory: pytest.TempPathFactory) -> Container:
    var = tmp_path_factory.mktemp("var")
    settings = Settings.from_env({"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET})
    container = build(settings)
    container.migrate()
    return container


@pytest.fixture(scope="session")
def postgres_container(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    var = tmp_path_factory.mktemp("var-pg")
    settings = Settings.from_env(
        {
            "LOTSE_VAR_DIR": str(var),
            "LOTSE_AUTH_SECRET": SECRET,
            "LOTSE_DIRECTORY_DATABASE_URL": postgres_url,
        }
    )
    container = build(settings)
    container.migrate()
    yield container
    container.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def container(request: pytest.FixtureRequest) -> Container:
    """The directory on each storage backend, emptied before every test."""
    found: Container = request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'postgres'}_container")
    _reset(found)
    return found


@pytest.fixture
def app(container: Container) -> Flask:
    return create_app(container.settings, container)


@pytest.fixture
def api(app: Flask, container: Container) -> Api:
    return Api(app.test_client(), container)


@pytest.fixture
def sqlite_api(sqlite_container: Container) -> Api:
    """The API on SQLite only, for behaviour that does not depend on the database."""
    _reset(sqlite_container)
    return Api(create_app(sqlite_container.settings, sqlite_container).test_client(), sqlite_container)


@dataclass
class ScaleSearch:
    """The directory in scale mode: PostgreSQL, Elasticsearch (osmem-server), a real Celery worker on RabbitMQ."""

    container: Container
    worker: "subprocess.Popen[bytes]"
    log: Path

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the worker has indexed every change, then make the index searchable."""
        assert self.container.search_index is not None
        deadline = time.monotonic() + timeout
        while True:
            with self.container.store.transaction() as session:
                due = session.indexing_due(limit=1)
            if not due:
                break
            assert self.worker.poll() is None, f"the worker died: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the worker did not index {due} in {timeout} s"
            time.sleep(0.05)
        self.container.search_index.refresh()

    def reset(self) -> None:
        self.settle()
        _reset(self.container)
        index = self.container.search_index
        assert index is not None
        index.drop(index.current())
        index.ensure()


@pytest.fixture(scope="session")
def scale_search(
    postgres_url: str, elasticsearch_url: str, rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleSearch]:
    """Scale mode with its worker as its own process (``lotse-directory worker``), as deployed."""
    run = uuid.uuid4().hex[:8]
    env = {
        "LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("var-es")),
        "LOTSE_AUTH_SECRET": SECRET,
        "LOTSE_DIRECTORY_DATABASE_URL": postgres_url,
        "ELASTICSEARCH_URL": elasticsearch_url,
        "LOTSE_DIRECTORY_ELASTICSEARCH_INDEX": f"lotse-test-{run}",
        "LOTSE_DIRECTORY_CELERY_BROKER_URL": rabbitmq_url,
        "LOTSE_DIRECTORY_CELERY_QUEUE": f"lotse.directory.jobs.test-{run}",
    }
    container = build(Settings.from_env(env))
    container.migrate()
    assert container.search_index is not None and container.jobs is not None
    container.search_index.ensure()
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = log_path.open("w")
    command = [CLI, "worker", "--concurrency=1", f"--hostname=lotse-test-{run}@%h"]  # unique: runs may overlap
    worker = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield ScaleSearch(container, worker, log_path)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        with container.jobs.app.connection_for_write() as conn:
            conn.default_channel.queue_delete(env["LOTSE_DIRECTORY_CELERY_QUEUE"])
        container.search_index.drop(container.search_index.current())
        container.engine.dispose()
