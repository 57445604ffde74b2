"""The "test delivery" of a notification channel: whoever manages the channel in the directory sends a test
message over it, now, to the real webhook receiver or SMTP server, and learns what it answered; nobody else
reaches another organisation's channel, and nothing is kept."""

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lotse_contracts import Role
from lotse_notify.bootstrap import build
from lotse_notify.entrypoints.web import create_app
from lotse_notify.settings import Settings
from standardwebhooks.webhooks import Webhook

from tests.conftest import LOOPBACK_WEBHOOKS
from tests.notify.conftest import Channels, Mailbox, Receiver, token
from tests.routing.conftest import SECRET, Directory
from tests.routing.test_referrals_api import WITTEN_JUGENDAMT


@pytest.fixture
def notify(directory: Directory, mailbox: Mailbox, tmp_path: Path) -> FlaskClient:
    env = {
        "LOTSE_AUTH_SECRET": SECRET,
        "LOTSE_VAR_DIR": str(tmp_path),
        "LOTSE_NOTIFY_DIRECTORY_URL": directory.url,
        "LOTSE_NOTIFY_SMTP_HOST": mailbox.host,
        "LOTSE_NOTIFY_SMTP_PORT": str(mailbox.port),
        **LOOPBACK_WEBHOOKS,
    }
    container = build(Settings.from_env(env))
    container.migrate()
    return create_app(container.settings, container).test_client()


def test_the_agency_tests_its_webhook_and_its_mailbox_and_learns_what_they_answered(
    notify: FlaskClient, directory: Directory, channels: Channels, receiver: Receiver, mailbox: Mailbox
) -> None:
    jugendamt = directory.org_named(WITTEN_JUGENDAMT)
    agency = token(Role.AGENCY, jugendamt, "ja.witten")
    hook = channels.add(jugendamt, "webhook", f"{receiver.url}/lotse", agency)
    mail = channels.add(jugendamt, "email", "eingang@jugendamt-witten.example", agency)

    answer = notify.post(f"/api/v1/notification_channels/{hook['id']}/test", headers=agency)
    assert answer.status_code == 200 and answer.json == {"delivered": True, "status": 200, "detail": "HTTP 200"}
    sent = receiver.requests[-1]
    assert sent.json["type"] == "notify.test" and sent.json["data"] == {}  # no referral, no personal data
    secret = hook["secrets"][0]["secret"]
    Webhook(secret).verify(sent.body, sent.headers)  # signed like every notification

    receiver.answers.append(503)
    failed = notify.post(f"/api/v1/notification_channels/{hook['id']}/test", headers=agency)
    assert failed.json == {"delivered": False, "status": 503, "detail": "HTTP 503"}

    answer = notify.post(f"/api/v1/notification_channels/{mail['id']}/test", headers=agency)
    assert answer.json["delivered"] is True, answer.json
    assert mailbox.messages[-1]["Subject"] == "Lotse: Testnachricht"
    assert "Testnachricht" in mailbox.messages[-1].get_content()

    mailbox.refuse.add("eingang@jugendamt-witten.example")
    refused = notify.post(f"/api/v1/notification_channels/{mail['id']}/test", headers=agency)
    assert refused.json["delivered"] is False and "550" in refused.json["detail"]


def test_another_organisation_and_a_case_manager_do_not_reach_the_channel(
    notify: FlaskClient, directory: Directory, channels: Channels, receiver: Receiver
) -> None:
    jugendamt = directory.org_named(WITTEN_JUGENDAMT)
    hook = channels.add(jugendamt, "webhook", f"{receiver.url}/lotse")
    other = token(Role.AGENCY, directory.org_named("Jobcenter Ennepe-Ruhr-Kreis (Demo)"), "jc.en")
    case_manager = token(Role.CASE_MANAGER, jugendamt, "cm")
    url = f"/api/v1/notification_channels/{hook['id']}/test"
    assert notify.post(url, headers=other).status_code == 404  # alike to one that does not exist
    assert notify.post(url, headers=case_manager).status_code == 403
    assert notify.post("/api/v1/notification_channels/nicht-so/test", headers=other).status_code == 400
    assert receiver.requests == []
