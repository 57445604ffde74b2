"""Routing fixtures: a real directory server with the NRW demo data (over HTTP), routing on SQLite and on
PostgreSQL, tokens for every role."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from lotse_contracts import Role, TokenClaims
from lotse_directory import create_app as create_directory_app
from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer
from lotse_directory.bootstrap import Container as DirectoryContainer
from lotse_directory.bootstrap import build as build_directory
from lotse_directory.settings import Settings as DirectorySettings
from lotse_directory.use_cases.demo import demo_document
from lotse_kit.tokens import HmacTokenVerifier
from lotse_routing import create_app
from lotse_routing.adapters.storage.tables import metadata
from lotse_routing.bootstrap import Container, build
from lotse_routing.settings import Settings
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.conftest import LOOPBACK_WEBHOOKS, fresh_postgres_database

SECRET = "routing-test-secret-" + "y" * 40
ADMIN = TokenClaims("admin-1", Role.ADMIN, None, "Admin")


@dataclass
class Directory:
    url: str
    container: DirectoryContainer

    def org_named(self, name: str) -> str:
        with self.container.store.transaction() as session:
            found = session.select("organization", {"name": name})
        assert found, name
        return str(found[0]["id"])


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    """The directory service with the demo data, served over real HTTP on a free port."""
    var = tmp_path_factory.mktemp("directory-var")
    settings = DirectorySettings.from_env({"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET, **LOOPBACK_WEBHOOKS})
    container = build_directory(settings)
    container.migrate()
    container.exchange.import_json(ADMIN, demo_document(packaged_gazetteer()))
    container.outbox.relay(container.bus, batch=100_000)  # the demo load's events are history here
    server = make_server("127.0.0.1", 0, create_directory_app(settings, container), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Directory(f"http://127.0.0.1:{server.server_port}", container)
    finally:
        server.shutdown()


@dataclass
class Api:
    client: FlaskClient
    container: Container
    directory: Directory

    def token(self, role: Role, org: str | None, sub: str = "user-1") -> dict[str, str]:
        verifier = self.container.verifier
        assert isinstance(verifier, HmacTokenVerifier)
        return {"Authorization": f"Bearer {verifier.issue(sub, role, org, 'Test')}"}

    def post(self, path: str, body: Any, headers: dict[str, str]) -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=headers)

    def get(self, path: str, headers: dict[str, str], **query: Any) -> Any:
        return self.client.get(f"/api/v1{path}", query_string=query, headers=headers)

    def reset(self) -> None:
        with self.container.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(text(f'DELETE FROM "{table.name}"'))
        self.container.directory.forget()


def _routing(directory: Directory, env: dict[str, str]) -> Container:
    settings = Settings.from_env({"LOTSE_AUTH_SECRET": SECRET, "LOTSE_ROUTING_DIRECTORY_URL": directory.url, **env})
    container = build(settings)
    container.migrate()
    directory.container.bus.subscribe("directory.#", container.directory.on_event)
    return container


@pytest.fixture(scope="session")
def sqlite_routing(directory: Directory, tmp_path_factory: pytest.TempPathFactory) -> Container:
    return _routing(directory, {"LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("routing-var"))})


@pytest.fixture(scope="session")
def postgres_routing(directory: Directory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    with fresh_postgres_database() as url:
        container = _routing(
            directory,
            {"LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("routing-var-pg")), "LOTSE_ROUTING_DATABASE_URL": url},
        )
        yield container
        container.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, directory: Directory) -> Api:
    """The routing API on SQLite and on PostgreSQL, emptied before each test."""
    container = request.getfixturevalue(f"{request.param}_routing")
    result = Api(create_app(container.settings, container).test_client(), container, directory)
    result.reset()
    return result


@pytest.fixture
def sqlite_api(sqlite_routing: Container, directory: Directory) -> Api:
    result = Api(create_app(sqlite_routing.settings, sqlite_routing).test_client(), sqlite_routing, directory)
    result.reset()
    return result
