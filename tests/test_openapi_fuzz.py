"""Every operation of each service's published OpenAPI document, sent generated requests by schemathesis: no
answer is a server error, and every answer keeps to the schema the document gives for it."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from tests.routing.conftest import SECRET, Directory, directory  # noqa: F401 (the served directory fixture)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
TOKENS = HmacTokenVerifier(SECRET)
ORG = "0a1b2c3d-0000-4000-8000-00000000c0de"


@dataclass
class Service:
    name: str
    app: Flask
    examples: int

    def headers(self, method: str, path: str) -> dict[str, str]:
        """A token of the role the operation is for, so that requests get past 403 to the code behind it."""
        role = Role.ADMIN
        if (self.name, method, path) in {
            ("routing", "POST", "/api/v1/referrals"),
            ("routing", "GET", "/api/v1/responsible"),
        }:
            role = Role.CASE_MANAGER
        elif self.name == "notify" and path.startswith("/api/v1/inbox"):
            role = Role.AGENCY
        elif path.endswith("/events"):
            role = Role.SERVICE
        org = None if role in (Role.ADMIN, Role.SERVICE) else ORG
        return {"Authorization": f"Bearer {TOKENS.issue('fuzz-1', role, org, 'Fuzz')}"}


def _directory(var: Path) -> Flask:
    from lotse_directory import create_app
    from lotse_directory.bootstrap import build
    from lotse_directory.settings import Settings

    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET}))
    container.migrate()
    return create_app(container.settings, container)


def _routing(var: Path, directory_url: str) -> Flask:
    from lotse_routing import create_app
    from lotse_routing.bootstrap import build
    from lotse_routing.settings import Settings

    env = {"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET, "LOTSE_ROUTING_DIRECTORY_URL": directory_url}
    container = build(Settings.from_env(env))
    container.migrate()
    return create_app(container.settings, container)


def _notify(var: Path) -> Flask:
    from lotse_notify.bootstrap import build
    from lotse_notify.entrypoints.web import create_app
    from lotse_notify.settings import Settings

    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(var), "LOTSE_AUTH_SECRET": SECRET}))
    container.migrate()
    return create_app(container.settings, container)


@pytest.fixture(params=["directory", "routing", "notify"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    if request.param == "directory":
        yield Service("directory", _directory(tmp_path), examples=8)
    elif request.param == "routing":
        served: Directory = request.getfixturevalue("directory")
        app = _routing(tmp_path, served.url)
        _referrals(app.test_client(), served)  # so that lists, audits and figures have something to show
        yield Service("routing", app, examples=25)
    else:
        yield Service("notify", _notify(tmp_path), examples=25)


def _referrals(client: Any, served: Directory) -> list[str]:
    """Two referrals to the demo Jugendamt Witten, one accepted: their ids."""
    from tests.routing.test_referrals_api import WITTEN_JUGENDAMT, body

    witten = served.org_named(WITTEN_JUGENDAMT)
    sender = {"Authorization": f"Bearer {TOKENS.issue('cm-1', Role.CASE_MANAGER, ORG, 'Fuzz')}"}
    agency = {"Authorization": f"Bearer {TOKENS.issue('ja-1', Role.AGENCY, witten, 'Fuzz')}"}
    made = [client.post("/api/v1/referrals", json=body(witten), headers=sender).json["id"] for _ in range(2)]
    assert client.post(f"/api/v1/referrals/{made[0]}/accept", headers=agency).status_code == 200
    return made


def test_routings_answers_keep_to_their_published_schemas(directory: Directory, tmp_path: Path) -> None:  # noqa: F811
    """Answers the fuzzing seldom reaches (a referral read in full, its audit, figures with counts)."""
    app = _routing(tmp_path, directory.url)
    client = app.test_client()
    made = _referrals(client, directory)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    admin = {"Authorization": f"Bearer {TOKENS.issue('a-1', Role.ADMIN, None, 'Admin')}"}
    sender = {"Authorization": f"Bearer {TOKENS.issue('cm-1', Role.CASE_MANAGER, ORG, 'Fuzz')}"}
    calls = [
        ("/api/v1/referrals", "GET", "/api/v1/referrals", sender),
        ("/api/v1/referrals/{referral_id}", "GET", f"/api/v1/referrals/{made[0]}", admin),
        ("/api/v1/referrals/{referral_id}/audit", "GET", f"/api/v1/referrals/{made[0]}/audit", admin),
        ("/api/v1/figures", "GET", "/api/v1/figures", admin),
        (
            "/api/v1/responsible",
            "GET",
            "/api/v1/responsible?legal_domain=SGB_II&location=32046&residence_of=client",
            sender,
        ),
    ]
    for template, method, url, who in calls:
        response = client.open(url, method=method, headers=who)
        assert response.status_code == 200, (url, response.json)
        assert response.json, url
        schema[template][method].validate_response(response)
    assert client.get("/api/v1/referrals", headers=sender).json["contents"]  # the list was not empty


def test_no_operation_answers_a_server_error_or_off_its_schema(service: Service) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", service.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= {"directory": 100, "routing": 10, "notify": 6}[service.name]
    documented = [
        o
        for o in operations
        if any(str(s).startswith("2") and r.get("content") for s, r in o.definition.raw["responses"].items())
    ]
    if service.name != "directory":  # routing's and notify's every operation documents its answer's schema
        assert len(documented) == len(operations), sorted(o.label for o in operations if o not in documented)
    for operation in operations:
        _fuzzed(operation, service.headers(operation.method.upper(), operation.path), service.examples)()


def _fuzzed(operation: Any, headers: dict[str, str], examples: int) -> Any:
    """A hypothesis test that calls the operation with generated requests and checks each answer."""

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)

    return call
