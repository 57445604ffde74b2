"""Junk that used to crash or slip through, sent to each of the three services: deep JSON, lone surrogates,
NUL, invisible names, NFD text, NaN, integers beyond 64 bits, a sloppy If-Match. Every answer is a 4xx
problem+json naming the field; nothing is a 500."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier

SECRET = "junk-test-secret-" + "j" * 40
TOKEN = HmacTokenVerifier(SECRET)


@dataclass
class Service:
    name: str
    client: FlaskClient
    write: str  # a POST endpoint with a JSON body
    role: Role


@pytest.fixture(scope="module", params=["directory", "routing", "notify"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    var = str(tmp_path_factory.mktemp(request.param))
    env = {"LOTSE_VAR_DIR": var, "LOTSE_AUTH_SECRET": SECRET}
    if request.param == "directory":
        from lotse_directory import create_app
        from lotse_directory.bootstrap import build
        from lotse_directory.settings import Settings

        directory = build(Settings.from_env(env))
        directory.migrate()
        yield Service(
            "directory", create_app(directory.settings, directory).test_client(), "/api/v1/organizations", Role.ADMIN
        )
    elif request.param == "routing":
        from lotse_routing import create_app as create_routing
        from lotse_routing.bootstrap import build as build_routing
        from lotse_routing.settings import Settings as RoutingSettings

        routing = build_routing(RoutingSettings.from_env({**env, "LOTSE_ROUTING_DIRECTORY_URL": "http://127.0.0.1:9"}))
        routing.migrate()
        yield Service(
            "routing", create_routing(routing.settings, routing).test_client(), "/api/v1/referrals", Role.CASE_MANAGER
        )
    else:
        from lotse_notify.bootstrap import build as build_notify
        from lotse_notify.entrypoints.web import create_app as create_notify
        from lotse_notify.settings import Settings as NotifySettings

        notify = build_notify(NotifySettings.from_env(env))
        notify.migrate()
        yield Service("notify", create_notify(notify.settings, notify).test_client(), "/api/v1/inbox/read", Role.AGENCY)


def _headers(service: Service) -> dict[str, str]:
    token = TOKEN.issue("u-1", service.role, None if service.role is Role.ADMIN else "org-1", "Test")
    return {"Authorization": f"Bearer {token}"}


def _post(service: Service, raw: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = service.client.post(service.write, data=raw, content_type="application/json", headers=_headers(service))
    assert response.mimetype == "application/problem+json", (response.status_code, response.data[:200])
    return response.status_code, dict(response.json or {})


def test_json_nested_a_thousand_deep_is_a_400(service: Service) -> None:
    for depth in (40, 1_000, 20_000):
        status, problem = _post(service, b"[" * depth + b"]" * depth)
        assert status == 400 and problem["errors"][0]["name"] == "body", (depth, problem)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"name": "\\ud800"}', "lone surrogate"),
        (b'{"name": "Caritas\\u0000Witten"}', "control characters"),
        (b'{"name": "\\u200b\\u200b\\u2060"}', "no visible character"),
        (b'{"name": "  \\t "}', "no visible character"),
        (b'{"\\ud800": 1}', "lone surrogate"),
    ],
)
def test_strings_that_no_service_can_take_are_named(service: Service, raw: bytes, why: str) -> None:
    status, problem = _post(service, raw)
    assert status == 422, problem
    assert why in problem["errors"][0]["reason"] and problem["errors"][0]["name"] in ("name", "\\ud800")


def test_query_numbers_beyond_range_or_not_a_number_are_a_400(service: Service) -> None:
    feed = service.client.get(
        "/api/v1/events",
        query_string={"after": str(2**63)},
        headers={"Authorization": f"Bearer {TOKEN.issue('s', Role.SERVICE, None)}"},
    )
    assert feed.status_code == 400 and feed.json["errors"][0]["name"] == "after"
    assert service.client.get(
        "/api/v1/events", query_string={"after": "1\x00"}, headers=_headers(service)
    ).status_code in (400, 403)


def test_the_directory_keeps_text_composed_and_refuses_nan_and_a_sloppy_if_match(tmp_path: Path) -> None:
    from lotse_directory import create_app
    from lotse_directory.bootstrap import build
    from lotse_directory.settings import Settings

    directory = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": SECRET}))
    directory.migrate()
    client = create_app(directory.settings, directory).test_client()
    admin = {"Authorization": f"Bearer {TOKEN.issue('a', Role.ADMIN, None)}"}
    made = client.post(
        "/api/v1/organizations", json={"name": "Beratung Mu\u0308nchen", "description": "Bu\u0308ro"}, headers=admin
    )
    assert made.status_code == 201 and made.json["name"] == "Beratung München"  # stored composed (NFC)
    for near in (
        {"lat": "NaN", "lon": "7.3"},
        {"lat": "51.4", "lon": "7.3", "radius_km": "nan"},
        {"lat": "inf", "lon": "1"},
    ):
        answer = client.get("/api/v1/search", query_string=near)
        assert answer.status_code == 400, (near, answer.json)
    for sloppy in ('" 1"', '"1 "', "1", 'W/"1"', '"0x1"', '"1"x'):
        patched = client.patch(
            f"/api/v1/organizations/{made.json['id']}",
            json={"description": "neu"},
            headers={**admin, "If-Match": sloppy},
        )
        assert patched.status_code == 412, sloppy
    assert client.get(f"/api/v1/organizations/{made.json['id']}", headers=admin).json["description"] == "Büro"
