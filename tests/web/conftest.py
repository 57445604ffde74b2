"""Lotse web's fixtures: the real directory (demo data) and routing, served over HTTP, a case manager with a
password, and the web application configured to call them."""

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from flask import Flask
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier
from lotse_notify.bootstrap import build as build_notify
from lotse_notify.entrypoints.web import create_app as create_notify_app
from lotse_notify.settings import Settings as NotifySettings
from lotse_routing import create_app as create_routing_app
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings
from lotse_web import create_app
from lotse_web.settings import Settings
from werkzeug.serving import make_server

from tests.conftest import LOOPBACK_WEBHOOKS
from tests.routing.conftest import SECRET, Directory, directory  # noqa: F401 (the served directory fixture)

CHROMIUM = "/usr/bin/chromium"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text("utf-8")
PASSWORD = "korrekt Pferd Batterie"
KI_EN = "Kommunales Integrationszentrum Ennepe-Ruhr-Kreis (Demo)"
WITTEN = "Jugendamt der Stadt Witten (Demo)"


def serve(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def routing_url(directory: Directory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    env = {
        "LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("web-routing")),
        "LOTSE_AUTH_SECRET": SECRET,
        "LOTSE_ROUTING_DIRECTORY_URL": directory.url,
        # what routing read from the directory counts for a second (it hears no change feed here), so that a
        # jurisdiction a maintainer saves reaches "Wer ist zuständig?" within the test
        "LOTSE_ROUTING_DIRECTORY_CACHE_SECONDS": "1",
    }
    routing = build_routing(RoutingSettings.from_env(env))
    routing.migrate()
    yield from serve(create_routing_app(routing.settings, routing))


@pytest.fixture(scope="session")
def notify_url(
    directory: Directory,  # noqa: F811
    routing_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Notify, reading routing's change feed (every 0.2 s) into the organisations' inboxes."""
    env = {
        "LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("web-notify")),
        "LOTSE_AUTH_SECRET": SECRET,
        "LOTSE_NOTIFY_DIRECTORY_URL": directory.url,
        "LOTSE_NOTIFY_ROUTING_URL": routing_url,
        "LOTSE_NOTIFY_POLL_SECONDS": "0.2",
        **LOOPBACK_WEBHOOKS,
    }
    notify = build_notify(NotifySettings.from_env(env))
    notify.migrate()
    notify.start_background("serve")
    try:
        yield from serve(create_notify_app(notify.settings, notify))
    finally:
        notify.stop_background()


@pytest.fixture
def web_app(directory: Directory, routing_url: str, notify_url: str, tmp_path: Path) -> Flask:  # noqa: F811
    with directory.container.store.transaction() as session:
        if session.get_user("cm.witten") is None:
            org = directory.org_named(KI_EN)
            session.add_user(
                {"id": "cm.witten", "name": "Clara M.", "role": Role.CASE_MANAGER.value, "organization_id": org}
            )
    directory.container.accounts.set_password("cm.witten", PASSWORD)
    with directory.container.store.transaction() as session:  # a test may have locked it (wrong passwords)
        session.set_login_attempts("cm.witten", 0, None)
    env = {
        "LOTSE_VAR_DIR": str(tmp_path),
        "LOTSE_WEB_DIRECTORY_URL": directory.url,
        "LOTSE_WEB_ROUTING_URL": routing_url,
        "LOTSE_WEB_NOTIFY_URL": notify_url,
    }
    return create_app(Settings.from_env(env))


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def add_user(
    directory: Directory,  # noqa: F811
    login: str,
    name: str,
    role: Role,
    organization: str,
    regions: tuple[str, ...] = (),
) -> None:
    """A user of the directory (``regions``: the region keys whose jurisdictions a maintainer keeps)."""
    with directory.container.store.transaction() as session:
        if session.get_user(login) is None:
            org = directory.org_named(organization)
            user = {"id": login, "name": name, "role": role.value, "organization_id": org, "regions": list(regions)}
            session.add_user(user)
    directory.container.accounts.set_password(login, PASSWORD)
    with directory.container.store.transaction() as session:
        session.set_login_attempts(login, 0, None)


@pytest.fixture
def referral(make_referral: Callable[..., str]) -> str:
    """A referral the demo case management sent to the Jugendamt Witten, over routing's API."""
    return make_referral()


@pytest.fixture
def make_referral(directory: Directory, routing_url: str) -> Callable[..., str]:  # noqa: F811
    """Makes referrals as the ``referral`` fixture's (each call one more; ``client``: about another person)."""
    return lambda client=None: _send_referral(directory, routing_url, client)


def _send_referral(
    directory: Directory,  # noqa: F811
    routing_url: str,
    client: dict[str, str] | None = None,
) -> str:
    token = HmacTokenVerifier(SECRET).issue("cm.witten", Role.CASE_MANAGER, directory.org_named(KI_EN), "Clara M.")
    body: dict[str, Any] = {
        "legal_domain": "SGB_VIII",
        "location": "58453",
        "residence_of": "parents",
        "reason": "Beratung zu Hilfen zur Erziehung",
        "client": client or {"name": "Samira Beispiel", "birth_date": "1990-04-01"},
        "consent": {
            "given_by": "Samira Beispiel",
            "given_at": "2026-12-01T09:00:00Z",
            "form": "written",
            "recipient_organization_id": directory.org_named(WITTEN),
            "data_categories": ["name", "birth_date", "reason"],
            "informed_of": ["purpose", "refusal", "withdrawal"],
        },
    }
    answer = urllib3.request(
        "POST", f"{routing_url}/api/v1/referrals", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 201, answer.data
    return str(answer.json()["id"])


def signed_in(app: Flask, login: str) -> FlaskClient:
    """A client of the web application with ``login`` signed in (password ``PASSWORD``)."""
    client = app.test_client()
    form = client.get("/anmelden").get_data(as_text=True)
    done = client.post("/anmelden", data={"login": login, "password": PASSWORD, "csrf_token": csrf(form)})
    assert done.status_code == 302, done.get_data(as_text=True)
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("LOTSE_REQUIRE_SERVERS") == "1":
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    args += ["--disable-component-update", "--no-first-run"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


def no_violations(page: Any, name: str) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the page as it is now; a screenshot when asked for."""
    page.evaluate(AXE + ";0")  # through the DevTools protocol: the page's own policy forbids inline script
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})).violations"
        ".map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert found == [], name
    folder = os.environ.get("LOTSE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
