"""The suite in embedded mode, each service over real HTTP as in `make run`: a maintainer adds a webhook for
the Jugendamt in the directory, a case manager creates a referral in routing, and notify, reading routing's
change feed, puts it in the Jugendamt's inbox and calls its webhook once, signed; routing, reading notify's
feed, shows the sender that the Jugendamt was told."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier
from lotse_notify.bootstrap import Container as NotifyContainer
from lotse_notify.bootstrap import build as build_notify
from lotse_notify.entrypoints.web import create_app as create_notify_app
from lotse_notify.settings import Settings as NotifySettings
from lotse_routing import create_app as create_routing_app
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server

from tests.conftest import LOOPBACK_WEBHOOKS
from tests.notify.conftest import Channels, Receiver, call, wait_for
from tests.routing.conftest import SECRET, Directory
from tests.routing.test_referrals_api import SENDER_ORG, WITTEN_JUGENDAMT, body


def _serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@dataclass
class Suite:
    directory: Directory
    routing_url: str
    notify: NotifyContainer
    notify_api: FlaskClient
    issuer: HmacTokenVerifier

    def token(self, role: Role, org: str | None, sub: str = "user-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(sub, role, org, 'Test')}"}

    def call(self, method: str, url: str, who: dict[str, str], payload: Any = None) -> Any:
        return call(method, url, who, payload)


@pytest.fixture
def suite(directory: Directory, tmp_path: Path) -> Iterator[Suite]:
    env = {"LOTSE_AUTH_SECRET": SECRET, **LOOPBACK_WEBHOOKS}
    routing = build_routing(
        RoutingSettings.from_env(
            {**env, "LOTSE_VAR_DIR": str(tmp_path / "routing"), "LOTSE_ROUTING_DIRECTORY_URL": directory.url}
        )
    )
    routing.migrate()
    served = _serve(create_routing_app(routing.settings, routing))
    routing_url = next(served)
    settings = NotifySettings.from_env(
        {
            **env,
            "LOTSE_VAR_DIR": str(tmp_path / "notify"),
            "LOTSE_NOTIFY_DIRECTORY_URL": directory.url,
            "LOTSE_NOTIFY_ROUTING_URL": routing_url,
            "LOTSE_NOTIFY_POLL_SECONDS": "0.2",
            "LOTSE_NOTIFY_SWEEP_SECONDS": "0.5",
            "LOTSE_NOTIFY_REFERRAL_PAGE_URL": "https://lotse.kreis.example/referrals/{id}",
        }
    )
    notify = build_notify(settings)
    notify.migrate()
    notify_app = create_notify_app(settings, notify)
    served_notify = _serve(notify_app)
    routing.settings = replace(routing.settings, notify_url=next(served_notify))
    notify.start_background("serve")
    routing.start_background()
    issuer = settings.auth.embedded_issuer()
    try:
        yield Suite(directory, routing_url, notify, notify_app.test_client(), issuer)
    finally:
        notify.stop_background()
        routing.stop_background()
        next(served_notify, None)
        next(served, None)


def test_a_referral_reaches_the_jugendamts_inbox_and_webhook_once_signed(
    suite: Suite, channels: Channels, receiver: Receiver
) -> None:
    jugendamt = suite.directory.org_named(WITTEN_JUGENDAMT)
    maintainer = suite.token(Role.MAINTAINER, jugendamt, "pflege-ja")
    channel = channels.add(jugendamt, "webhook", receiver.url, maintainer)
    secret = channel["secrets"][0]["secret"]

    case_manager = suite.token(Role.CASE_MANAGER, SENDER_ORG, "cm-1")
    status, referral = suite.call("POST", f"{suite.routing_url}/api/v1/referrals", case_manager, body(jugendamt))
    assert status == 201, referral
    wait_for(lambda: len(receiver.requests) >= 1, 15, "the webhook call")
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "referral.requested" and payload["data"]["referral_id"] == referral["id"]
    assert payload["data"]["link"] == f"https://lotse.kreis.example/referrals/{referral['id']}"
    assert "Amina" not in request.body.decode()  # the client's name stays in routing

    agency = suite.token(Role.AGENCY, jugendamt, "ja-witten-1")
    inbox = suite.notify_api.get("/api/v1/inbox?unread=true", headers=agency).json
    assert [n["referral_id"] for n in inbox["contents"]] == [referral["id"]]
    assert inbox["contents"][0]["event_type"] == "referral.requested" and inbox["contents"][0]["read_at"] is None
    other = suite.token(Role.AGENCY, SENDER_ORG, "someone-else")
    assert suite.notify_api.get("/api/v1/inbox", headers=other).json["total_items"] == 0
    assert suite.notify_api.post("/api/v1/inbox/read", json={}, headers=other).json == {"marked": 0}
    assert suite.notify_api.post("/api/v1/inbox/read", json={"ids": ["x"]}, headers=agency).status_code == 422
    marked = suite.notify_api.post("/api/v1/inbox/read", json={}, headers=agency)
    assert marked.json == {"marked": 1}
    assert suite.notify_api.get("/api/v1/inbox?unread=true", headers=agency).json["total_items"] == 0
    assert suite.notify_api.get("/api/v1/inbox", headers=suite.token(Role.SERVICE, None)).status_code == 403

    # the delivery report is in notify's feed, for routing; nothing more was sent
    service = suite.token(Role.SERVICE, None, "service:lotse-routing")
    feed = suite.notify_api.get("/api/v1/events?after=0", headers=service).json["events"]
    assert [e["event"]["type"] for e in feed] == ["notification.delivered"]

    # routing heard the report from notify's feed: the sender sees that the Jugendamt was told
    def told() -> list[Any]:
        found = suite.call("GET", f"{suite.routing_url}/api/v1/referrals/{referral['id']}", case_manager)[1]
        return list(found["notifications"])

    wait_for(lambda: bool(told()), 15, "the report in routing")
    assert told() == [
        {
            "organization_id": jugendamt,
            "side": "recipient",
            "channel": "webhook",
            "about": "referral.requested",
            "outcome": "delivered",
            "attempts": 1,
            "at": told()[0]["at"],
        }
    ]
    time.sleep(1.0)  # a few more polls and sweeps
    assert len(receiver.requests) == 1 and len(told()) == 1
    admin = suite.token(Role.ADMIN, None, "admin-1")
    assert suite.notify_api.get("/api/v1/deliveries/dead", headers=admin).json["total_items"] == 0
    assert suite.notify_api.get("/api/v1/deliveries/dead", headers=agency).status_code == 403
    assert suite.notify_api.get("/api/v1/endpoints/paused", headers=admin).json == {"contents": []}
    assert suite.notify_api.get("/api/v1/endpoints/paused", headers=agency).status_code == 403


@pytest.mark.parametrize(
    "template", ["https://lotse.kreis.example/referrals", "ftp://lotse/{id}", "/referrals/{id}", "https://x/{id}/{id}"]
)
def test_a_page_url_without_one_id_or_not_http_is_refused_at_start(template: str) -> None:
    with pytest.raises(ValueError, match="REFERRAL_PAGE_URL"):
        NotifySettings.from_env({"LOTSE_NOTIFY_REFERRAL_PAGE_URL": template})
