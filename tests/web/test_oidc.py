"""Scale mode's login: the web application sends the user to the OIDC provider (authorization code flow with
PKCE), and the directory and routing accept the provider's access token through its JWKS. The provider is a
real one on a free port (tests/web/oidc_provider.py); the journey runs in chromium and through Flask's test
client where a refusal is easier to provoke."""

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import urllib3
from flask import Flask
from flask.testing import FlaskClient
from lotse_directory import create_app as create_directory_app
from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer
from lotse_directory.bootstrap import build as build_directory
from lotse_directory.settings import Settings as DirectorySettings
from lotse_directory.use_cases.demo import demo_document
from lotse_routing import create_app as create_routing_app
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings
from lotse_web import create_app
from lotse_web.settings import Settings

from tests.conftest import LOOPBACK_WEBHOOKS
from tests.routing.conftest import ADMIN
from tests.web.conftest import KI_EN, csrf, no_violations, serve
from tests.web.oidc_provider import Provider

CALLBACK = "/anmelden/dienstkonto/zurueck"


@dataclass
class ScaleMode:
    provider: Provider
    directory_url: str
    routing_url: str
    tmp: Path

    def web(self, **extra: str) -> Flask:
        env = {
            "LOTSE_VAR_DIR": str(self.tmp),
            "LOTSE_WEB_DIRECTORY_URL": self.directory_url,
            "LOTSE_WEB_ROUTING_URL": self.routing_url,
            "LOTSE_WEB_OIDC_ISSUER": self.provider.url,
            **extra,
        }
        return create_app(Settings.from_env(env))


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleMode]:
    """The provider, and the directory (demo data) and routing accepting only its tokens."""
    with ExitStack() as running:

        def started(app: Flask) -> str:
            server = serve(app)
            running.callback(server.close)  # shuts the server down
            return next(server)

        provider = Provider(users={})
        provider.url = started(provider.app())
        oidc = {"LOTSE_AUTH_OIDC_ISSUER": provider.url, "LOTSE_AUTH_OIDC_JWKS_URI": f"{provider.url}/jwks"}
        var = {"LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("scale-directory"))}
        directory = build_directory(DirectorySettings.from_env({**oidc, **var, **LOOPBACK_WEBHOOKS}))
        directory.migrate()
        directory.exchange.import_json(ADMIN, demo_document(packaged_gazetteer()))
        with directory.store.transaction() as session:
            ki = str(session.select("organization", {"name": KI_EN})[0]["id"])
        provider.users["clara.m"] = {"name": "Clara M.", "role": "case_manager", "org": ki}
        directory_url = started(create_directory_app(directory.settings, directory))

        service = {"sub": "routing", "role": "service", "aud": "lotse", "iss": provider.url, "exp": time.time() + 3600}
        routing_env = {
            **oidc,
            "LOTSE_VAR_DIR": str(tmp_path_factory.mktemp("scale-routing")),
            "LOTSE_ROUTING_DIRECTORY_URL": directory_url,
            "LOTSE_ROUTING_DIRECTORY_TOKEN": provider.sign(service),
        }
        routing = build_routing(RoutingSettings.from_env(routing_env))
        routing.migrate()
        routing_url = started(create_routing_app(routing.settings, routing))
        yield ScaleMode(provider, directory_url, routing_url, tmp_path_factory.mktemp("scale-web"))


def _through_provider(web: FlaskClient, scale: ScaleMode, login: str, start: str = "/anmelden/dienstkonto") -> str:
    """Start the login at the web application, log in at the provider's page, and return the address the
    provider sends the browser back to (the web application's callback with code and state)."""
    away = web.get(start)
    assert away.status_code == 302 and away.location.startswith(f"{scale.provider.url}/authorize?")
    query = parse_qs(urlsplit(away.location).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43  # PKCE
    assert query["nonce"] and query["state"] and query["redirect_uri"] == [f"http://localhost{CALLBACK}"]
    form = {name: values[0] for name, values in query.items()} | {"login": login}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    back = urllib3.request(
        "POST", f"{scale.provider.url}/authorize", body=urlencode(form), headers=form_type, redirect=False
    )
    assert back.status == 302
    return str(back.headers["Location"]).removeprefix("http://localhost")


def test_a_case_manager_logs_in_at_the_provider_and_the_services_accept_its_token(scale: ScaleMode) -> None:
    scale.provider.redirect_uris = [f"http://localhost{CALLBACK}"]
    web = scale.web().test_client()
    page = web.get("/anmelden?weiter=/vermittlungen").get_data(as_text=True)
    assert "Mit Dienstkonto anmelden" in page and 'name="password"' not in page  # no password of Lotse's own
    callback = _through_provider(web, scale, "clara.m", "/anmelden/dienstkonto?weiter=/vermittlungen")
    done = web.get(callback)
    assert done.status_code == 302 and done.location == "/vermittlungen", done.get_data(as_text=True)
    sent = scale.provider.token_requests[-1]
    assert sent["code_verifier"] and sent["grant_type"] == "authorization_code" and "client_secret" not in sent

    listing = web.get("/vermittlungen").get_data(as_text=True)  # routing accepted the provider's token
    assert "Clara M. (Case Management)" in listing and "Vermittlungen" in listing
    found = web.get("/angebote?q=Deutschkurs&ort=58453").get_data(as_text=True)  # and the directory did
    assert "lotse-hit" in found

    again = web.get(callback)  # the same code and state a second time: refused, in German
    assert again.status_code == 400 and "nicht gelungen" in again.get_data(as_text=True)
    out = web.post("/abmelden", data={"csrf_token": csrf(web.get("/").get_data(as_text=True))})
    assert out.status_code == 302 and out.location.startswith(f"{scale.provider.url}/logout?")
    assert parse_qs(urlsplit(out.location).query)["client_id"] == ["lotse-web"]  # the provider's session ends too
    assert web.get("/vermittlungen").status_code == 302


def test_a_refused_login_a_forged_return_and_an_expired_token_end_at_the_login_page(scale: ScaleMode) -> None:
    scale.provider.redirect_uris = [f"http://localhost{CALLBACK}"]
    web = scale.web().test_client()
    denied = web.get(_through_provider(web, scale, "unbekannt"))  # the provider refuses the user
    assert denied.status_code == 400 and "Die Anmeldung wurde abgebrochen." in denied.get_data(as_text=True)

    callback = _through_provider(web, scale, "clara.m")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    forged = web.get(f"{CALLBACK}?code={code}&state=von-jemand-anderem")  # not the state this session sent
    assert forged.status_code == 400 and "nicht gelungen" in forged.get_data(as_text=True)
    assert web.get("/vermittlungen").status_code == 302  # not signed in

    scale.provider.access_ttl = 3  # whole seconds: 1 may be over before the login has asked who it is
    try:
        assert web.get(_through_provider(web, scale, "clara.m")).status_code == 302
    finally:
        scale.provider.access_ttl = 300
    time.sleep(4.1)  # the access token expires at the provider's say; the services refuse it now
    expired = web.get("/vermittlungen")
    assert expired.status_code == 302 and expired.location == "/anmelden?weiter=/vermittlungen"
    assert "Ihre Anmeldung ist abgelaufen" in web.get("/anmelden").get_data(as_text=True)


def test_a_provider_that_does_not_answer_is_explained(scale: ScaleMode, tmp_path: Path) -> None:
    web = create_app(
        Settings.from_env({"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_WEB_OIDC_ISSUER": "http://127.0.0.1:9"})
    ).test_client()
    answer = web.get("/anmelden/dienstkonto")
    assert answer.status_code == 400 and "gerade nicht möglich" in answer.get_data(as_text=True)


def test_the_login_through_the_provider_works_in_the_browser(scale: ScaleMode, browser: Any) -> None:
    for site in serve(scale.web()):
        scale.provider.redirect_uris = [f"{site}{CALLBACK}"]
        page = browser.new_page(locale="de-DE")
        page.goto(f"{site}/vermittlungen")
        no_violations(page, "anmelden-dienstkonto")
        with page.expect_navigation():
            page.get_by_role("link", name="Mit Dienstkonto anmelden").click()
        assert page.url.startswith(f"{scale.provider.url}/authorize")
        page.fill("#login", "clara.m")
        with page.expect_navigation(url=f"{site}/vermittlungen"):
            page.get_by_role("button", name="Weiter").click()
        assert "Clara M." in page.inner_text("header")
        with page.expect_navigation(url=f"{site}/anmelden"):
            page.get_by_role("button", name="Abmelden").click()
        assert "Sie haben sich abgemeldet." in page.inner_text("main")
        page.close()
