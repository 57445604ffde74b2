"""Embedded mode's local accounts: a password stored only as an Argon2id hash, a login that answers a wrong
login and a wrong password alike, a token that works like any other, no login in scale mode."""

import subprocess
from pathlib import Path

import pytest
from lotse_contracts import Role
from lotse_directory import create_app
from lotse_directory.bootstrap import build
from lotse_directory.settings import Settings
from sqlalchemy import select

from tests.directory.test_cli_and_serve import CLI, _cli, env  # noqa: F401 (env is a fixture)

SECRET = "accounts-test-secret-" + "a" * 40


def _directory(tmp_path: Path, **extra: str):  # type: ignore[no-untyped-def]
    container = build(Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AUTH_SECRET": SECRET, **extra}))
    container.migrate()
    with container.store.transaction() as session:
        session.add_user({"id": "maria.k", "name": "Maria K.", "role": Role.ADMIN.value, "organization_id": None})
    return container, create_app(container.settings, container).test_client()


def test_a_user_logs_in_with_the_password_set_and_gets_a_token_that_works(tmp_path: Path) -> None:
    container, client = _directory(tmp_path)
    container.accounts.set_password("maria.k", "korrekt Pferd Batterie")
    with container.engine.connect() as conn:
        from lotse_directory.adapters.storage.tables import users

        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "Pferd" not in stored
    answer = client.post("/api/v1/login", json={"login": "maria.k", "password": "korrekt Pferd Batterie"})
    assert answer.status_code == 200, answer.json
    assert answer.json["user"] == {
        "id": "maria.k",
        "name": "Maria K.",
        "role": "admin",
        "organization_id": None,
        "regions": [],
    }
    assert "password_hash" not in str(answer.json)
    token = {"Authorization": f"Bearer {answer.json['token']}"}
    assert client.get("/api/v1/verification/due", headers=token).status_code == 200
    me = client.get("/api/v1/me", headers=token)
    assert me.json == {"id": "maria.k", "name": "Maria K.", "role": "admin", "organization_id": None, "regions": []}
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("login", "password"), [("maria.k", "falsches Passwort"), ("niemand", "korrekt Pferd Batterie"), ("maria.k", "")]
)
def test_a_wrong_login_or_password_is_refused_alike(tmp_path: Path, login: str, password: str) -> None:
    container, client = _directory(tmp_path)
    container.accounts.set_password("maria.k", "korrekt Pferd Batterie")
    answer = client.post("/api/v1/login", json={"login": login, "password": password})
    if password:
        assert answer.status_code == 401 and answer.json["detail"] == "login or password wrong"
    else:
        assert answer.status_code == 422 and answer.json["errors"][0]["name"] == "password"


def test_a_user_without_password_cannot_log_in_and_a_short_password_is_refused(tmp_path: Path) -> None:
    container, client = _directory(tmp_path)
    assert client.post("/api/v1/login", json={"login": "maria.k", "password": "irgendwas"}).status_code == 401
    answer = client.post("/api/v1/login", json={"login": "maria.k", "password": "x", "role": "admin"})
    assert answer.status_code == 422  # nothing but login and password
    from lotse_kit.errors import Invalid

    with pytest.raises(Invalid):
        container.accounts.set_password("maria.k", "zu kurz")


def test_scale_mode_has_no_local_login(tmp_path: Path) -> None:
    oidc = {"LOTSE_AUTH_OIDC_ISSUER": "https://idp.example", "LOTSE_AUTH_OIDC_JWKS_URI": "https://idp.example/jwks"}
    _, client = _directory(tmp_path, **oidc)
    answer = client.post("/api/v1/login", json={"login": "maria.k", "password": "korrekt Pferd Batterie"})
    assert answer.status_code == 409 and "OIDC" in answer.json["detail"]


def test_demo_logins_print_a_password_every_demo_user_logs_in_with(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    _cli(env, "db", "upgrade")
    _cli(env, "demo", "load")
    printed = _cli(env, "users", "demo-logins")
    password = printed.split("password for each: ", 1)[1].split(")", 1)[0]
    assert "demo-case-manager" in printed and "demo-agency" in printed
    assert (tmp_path / "demo-password").stat().st_mode & 0o077 == 0
    assert _cli(env, "users", "demo-logins") == printed  # the same password on the next start
    container = build(Settings.from_env(env))
    assert container.accounts.log_in("demo-agency", password)["user"]["role"] == "agency"
    done = subprocess.run(
        [CLI, "users", "set-password", "demo-agency", "--password", "neues langes Passwort"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert container.accounts.log_in("demo-agency", "neues langes Passwort")["user"]["id"] == "demo-agency"


def test_five_wrong_passwords_in_a_row_lock_a_login_for_a_while_whether_it_exists_or_not(tmp_path: Path) -> None:
    container, client = _directory(tmp_path)
    container.accounts.set_password("maria.k", "korrekt Pferd Batterie")
    for login in ("maria.k", "niemand"):
        for _ in range(5):
            assert client.post("/api/v1/login", json={"login": login, "password": "falsch"}).status_code == 401
        locked = client.post("/api/v1/login", json={"login": login, "password": "korrekt Pferd Batterie"})
        assert locked.status_code == 429 and 800 < int(locked.headers["Retry-After"]) <= 901, login
        assert "too many wrong passwords" in locked.json["detail"]
    with container.store.transaction() as session:  # the lock ran out
        session.set_login_attempts("maria.k", 0, None)
    assert (
        client.post("/api/v1/login", json={"login": "maria.k", "password": "korrekt Pferd Batterie"}).status_code == 200
    )


def test_a_right_password_clears_the_wrong_ones_before_it(tmp_path: Path) -> None:
    container, client = _directory(tmp_path)
    container.accounts.set_password("maria.k", "korrekt Pferd Batterie")
    for _ in range(4):
        client.post("/api/v1/login", json={"login": "maria.k", "password": "falsch"})
    assert (
        client.post("/api/v1/login", json={"login": "maria.k", "password": "korrekt Pferd Batterie"}).status_code == 200
    )
    for _ in range(4):  # four more are allowed again
        assert client.post("/api/v1/login", json={"login": "maria.k", "password": "falsch"}).status_code == 401
    assert (
        client.post("/api/v1/login", json={"login": "maria.k", "password": "korrekt Pferd Batterie"}).status_code == 200
    )


def _bearer(client, login: str, password: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = client.post("/api/v1/login", json={"login": login, "password": password})
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['token']}"}


def test_an_admin_invites_changes_deactivates_and_resets_users_through_links_used_once(tmp_path: Path) -> None:
    container, client = _directory(tmp_path)
    container.accounts.set_password("maria.k", "korrekt Pferd Batterie")
    admin = _bearer(client, "maria.k", "korrekt Pferd Batterie")
    claims = container.verifier.verify(admin["Authorization"][7:])
    org = container.entries.create(claims, "organization", {"name": "KI Test", "description": "x"}).values["id"]
    invited = client.post(
        "/api/v1/users",
        json={"id": "ole.p", "name": "Ole P.", "role": "maintainer", "organization_id": org, "email": "ole@ki.example"},
        headers=admin,
    )
    assert invited.status_code == 201, invited.json
    assert invited.json["user"]["invited"] is True and "password_link" not in str(invited.json["user"])
    link = invited.json["token"]
    assert client.post("/api/v1/login", json={"login": "ole.p", "password": "irgendein Passwort"}).status_code == 401
    assert client.get(f"/api/v1/password_links/{link}").json == {"id": "ole.p", "name": "Ole P."}
    short = client.post(f"/api/v1/password_links/{link}", json={"password": "kurz"})
    assert short.status_code == 422 and short.json["errors"][0]["name"] == "password"
    assert client.post(f"/api/v1/password_links/{link}", json={"password": "Ole sein Passwort"}).status_code == 204
    assert client.post(f"/api/v1/password_links/{link}", json={"password": "noch ein Passwort"}).status_code == 410
    ole = _bearer(client, "ole.p", "Ole sein Passwort")
    assert client.get("/api/v1/users", headers=ole).status_code == 403

    listed = {u["id"]: u for u in client.get("/api/v1/users", headers=admin).json["contents"]}
    assert listed["ole.p"]["role"] == "maintainer" and listed["ole.p"]["invited"] is False
    changed = client.patch("/api/v1/users/ole.p", json={"role": "coordinator", "regions": ["05954"]}, headers=admin)
    assert changed.status_code == 200 and changed.json["regions"] == ["05954"]
    assert client.patch("/api/v1/users/ole.p", json={"role": "king"}, headers=admin).status_code == 422
    off = client.patch("/api/v1/users/ole.p", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json["active"] is False
    assert client.post("/api/v1/login", json={"login": "ole.p", "password": "Ole sein Passwort"}).status_code == 401
    client.patch("/api/v1/users/ole.p", json={"active": True}, headers=admin)
    assert client.patch("/api/v1/users/maria.k", json={"active": False}, headers=admin).status_code == 409

    reset = client.post("/api/v1/users/ole.p/password_link", headers=admin)
    assert reset.status_code == 201
    assert client.post("/api/v1/login", json={"login": "ole.p", "password": "Ole sein Passwort"}).status_code == 401
    again = client.post("/api/v1/users/ole.p/password_link", headers=admin).json["token"]  # replaces the first
    assert client.get(f"/api/v1/password_links/{reset.json['token']}").status_code == 410
    assert client.post(f"/api/v1/password_links/{again}", json={"password": "Oles neues Passwort"}).status_code == 204
    _bearer(client, "ole.p", "Oles neues Passwort")
    assert client.get("/api/v1/password_links/" + again[:-4] + "AAAA").status_code in (404, 410)
    assert (
        client.post("/api/v1/users", json={"id": "ole.p", "name": "x", "role": "admin"}, headers=admin).status_code
        == 409
    )
