"""Delivering notifications on SQLite and PostgreSQL, to a real webhook receiver and a real SMTP server: signed
and thin, retried with the same webhook-id, gone at 410, given up and re-driven, held by a lease, reported by
events that keep to their contract."""

import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from lotse_contracts.webhooks import new_secret
from lotse_kit.schema_errors import event_validator
from lotse_kit.webhook_targets import TargetPolicy
from lotse_notify.adapters.senders.email import SmtpSender
from lotse_notify.adapters.senders.webhook import WebhookSender
from lotse_notify.adapters.storage.sql_store import SqlNotifyStore
from lotse_notify.adapters.storage.tables import delivery, endpoint_pause, gone_endpoint, outbox
from lotse_notify.domain.channels import Channel, Kind
from lotse_notify.domain.delivery import Retries, State
from lotse_notify.domain.messages import Notice
from lotse_notify.use_cases.deliveries import Deliveries
from lotse_notify.use_cases.intake import Intake
from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook

from tests.conftest import LOOPBACK_WEBHOOKS
from tests.notify.conftest import JUGENDAMT, ChannelTable, Mailbox, Receiver, referral_event, serving_receiver

SECRET = new_secret()
QUICK = Retries(attempts=4, first=0.0, jitter=0.0)  # due again at once: the tests drive time by sweeping


def notice_for(delivery_id: str) -> Notice:
    return Notice(
        delivery_id,
        "e-1",
        "referral.requested",
        "r-1",
        "SGB_VIII",
        "05954036",
        "requested",
        None,
        "recipient",
        datetime.now(UTC),
        "https://lotse.kreis.example/vermittlungen/r-1",
    )


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


class Queue:
    """A job queue that keeps what it is sent (the tests run the jobs)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, delivery_ids: Sequence[str]) -> None:
        self.sent.extend(delivery_ids)


def setup(
    engine: Engine, channels: list[Channel], mailbox: Mailbox | None = None, **kw: Any
) -> tuple[Intake, Deliveries]:
    store = SqlNotifyStore(engine)
    table = ChannelTable(channels)
    smtp = SmtpSender(mailbox.host, mailbox.port, "Lotse <lotse@kreis.example>") if mailbox else None
    webhooks = WebhookSender(timeout=kw.pop("timeout", 5), targets=TargetPolicy.from_env(LOOPBACK_WEBHOOKS))
    senders: dict[Kind, Any] = {Kind.WEBHOOK: webhooks, Kind.EMAIL: smtp}
    link = "https://lotse.kreis.example/vermittlungen/{}".format
    intake = Intake(store, table, now=kw["now"]) if "now" in kw else Intake(store, table)
    return intake, Deliveries(store, table, senders, link, **{"retries": QUICK, **kw})


def hook(receiver: Receiver, revision: int = 1, **changes: Any) -> Channel:
    return replace(Channel("ch-hook", JUGENDAMT, Kind.WEBHOOK, receiver.url, revision, (SECRET,)), **changes)


def reports(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [json.loads(p) for p in conn.execute(select(outbox.c.payload).order_by(outbox.c.seq)).scalars()]


def state(engine: Engine, ident: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(delivery).where(delivery.c.id == ident)).mappings().one()


def test_a_webhook_is_delivered_once_signed_and_thin_and_reported(engine: Engine, receiver: Receiver) -> None:
    intake, deliveries = setup(engine, [hook(receiver)])
    [ident] = intake.take(referral_event("requested"))
    assert deliveries.attempt(ident) is State.DELIVERED
    assert deliveries.attempt(ident) is None  # done: a second job for it does nothing
    [request] = receiver.requests
    payload = Webhook(SECRET).verify(request.body, request.headers)  # the convention's reference verifier
    assert request.headers["webhook-id"] == ident
    assert payload["type"] == "referral.requested"
    assert payload["data"] == {
        "referral_id": "5b9d0c1e-0000-4000-8000-000000000001",
        "event_id": payload["data"]["event_id"],
        "legal_domain": "SGB_VIII",
        "region_key": "05954036",
        "status": "requested",
        "urgency": "urgent",
        "side": "recipient",
        "link": "https://lotse.kreis.example/vermittlungen/5b9d0c1e-0000-4000-8000-000000000001",
    }
    [report] = reports(engine)
    event_validator("notification.delivered", 1).validate(report)
    assert report["data"]["delivery_id"] == ident and report["data"]["outcome"] == "delivered"
    assert receiver.url not in json.dumps(report)  # no address in events
    row = state(engine, ident)
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 1, 200)


def test_a_failing_receiver_gets_the_same_webhook_id_until_it_answers(engine: Engine, receiver: Receiver) -> None:
    intake, deliveries = setup(engine, [hook(receiver)])
    queue = Queue()
    receiver.answers = [500, 503]
    [ident] = intake.take(referral_event("requested"))
    assert deliveries.attempt(ident) is State.FAILED
    assert state(engine, ident)["last_error"] == "HTTP 500"
    assert deliveries.sweep(queue) == 1 and queue.sent == [ident]  # due again (at once, in these tests)
    assert deliveries.sweep(queue) == 0  # a job was just sent for it
    assert deliveries.attempt(ident) is State.FAILED
    deliveries.sweep(queue)
    assert deliveries.attempt(ident) is State.DELIVERED
    assert receiver.ids() == [ident] * 3
    assert [r["type"] for r in reports(engine)] == ["notification.delivered"]


def test_backoff_keeps_the_next_attempt_until_it_is_due(engine: Engine, receiver: Receiver) -> None:
    clock = Clock()
    intake, deliveries = setup(engine, [hook(receiver)], retries=Retries(jitter=0.0), now=clock)
    queue = Queue()
    receiver.answers = [500]
    [ident] = intake.take(referral_event("requested"))
    assert deliveries.attempt(ident) is State.FAILED
    assert deliveries.sweep(queue) == 0 and deliveries.attempt(ident) is None  # due in 10 s
    clock.at += timedelta(seconds=11)
    assert deliveries.sweep(queue) == 1 and deliveries.attempt(ident) is State.DELIVERED


def test_410_gone_makes_it_dead_at_once_until_a_maintainer_changes_the_channel(
    engine: Engine, receiver: Receiver
) -> None:
    intake, deliveries = setup(engine, [hook(receiver)])
    receiver.answers = [410]
    [first] = intake.take(referral_event("requested"))
    assert deliveries.attempt(first) is State.DEAD
    [second] = intake.take(referral_event("requested", referral_id="5b9d0c1e-0000-4000-8000-000000000002"))
    assert deliveries.attempt(second) is State.DEAD
    assert len(receiver.requests) == 1  # the gone endpoint is not called again
    failed = reports(engine)
    assert [(r["type"], r["data"]["outcome"]) for r in failed] == [("notification.failed", "endpoint_gone")] * 2
    for r in failed:
        event_validator("notification.failed", 1).validate(r)

    _, fixed = setup(engine, [hook(receiver, revision=2)])  # a maintainer corrected the endpoint
    assert deliveries.redrive(second, Queue()) and fixed.attempt(second) is State.DELIVERED
    with engine.connect() as conn:
        assert conn.execute(select(gone_endpoint)).all() == []


def test_given_up_after_every_attempt_listed_for_the_operator_and_re_driven(engine: Engine, receiver: Receiver) -> None:
    intake, deliveries = setup(engine, [hook(receiver)])
    queue = Queue()
    receiver.answers = [500] * QUICK.attempts
    [ident] = intake.take(referral_event("requested"))
    for _ in range(QUICK.attempts - 1):
        assert deliveries.attempt(ident) is State.FAILED
    assert deliveries.attempt(ident) is State.DEAD
    assert deliveries.sweep(queue) == 0
    rows, total = deliveries.dead()
    assert total == 1 and rows[0]["id"] == ident and rows[0]["last_error"] == "HTTP 500"
    assert rows[0]["attempts"] == QUICK.attempts
    assert reports(engine)[-1]["data"]["outcome"] == "attempts_exhausted"
    assert not deliveries.redrive("5b9d0c1e-0000-4000-8000-00000000dead", queue)
    assert deliveries.redrive(ident, queue) and queue.sent == [ident]
    assert deliveries.attempt(ident) is State.DELIVERED
    assert deliveries.dead()[1] == 0 and set(receiver.ids()) == {ident}


def test_a_worker_that_died_lets_go_when_its_lease_runs_out(engine: Engine, receiver: Receiver) -> None:
    clock = Clock()
    intake, deliveries = setup(engine, [hook(receiver)], now=clock, lease=timedelta(seconds=30))
    queue = Queue()
    [ident] = intake.take(referral_event("requested"))
    with deliveries.store.transaction() as session:  # a worker claims it, then is killed
        claimed = session.claim(ident, clock(), clock() + deliveries.lease)
    assert claimed is not None and claimed["attempts"] == 1
    assert deliveries.attempt(ident) is None and deliveries.sweep(queue) == 0  # held
    clock.at += timedelta(seconds=31)
    assert deliveries.sweep(queue) == 1
    assert deliveries.attempt(ident) is State.DELIVERED
    with deliveries.store.transaction() as session:  # the dead worker's late result changes nothing
        assert not session.finish(ident, 1, {"state": "failed"})
    assert state(engine, ident)["state"] == "delivered" and len(receiver.requests) == 1


def test_the_intake_claims_first_attempts_where_it_has_room_but_not_for_a_paused_or_gone_endpoint(
    engine: Engine, receiver: Receiver
) -> None:
    """The consumer's first attempts (scale mode): taken in, held and attempted without a job or a claim of
    their own; held by their lease like a worker's claim; a consumer killed before its attempt lets go."""
    clock = Clock()
    paused = hook(receiver, id="ch-paused", target=receiver.url + "?quiet")
    gone = hook(receiver, id="ch-gone", target=receiver.url + "?gone", revision=2)
    intake, deliveries = setup(engine, [hook(receiver), paused, gone], now=clock, lease=timedelta(seconds=30))
    intake.lease = deliveries.lease
    with engine.begin() as conn:
        conn.execute(endpoint_pause.insert(), {**PAUSE, "target": paused.target, "until": clock() + timedelta(hours=1)})
        conn.execute(
            gone_endpoint.insert(), {"channel_id": gone.id, "channel_revision": 2, "gone_at": clock(), "detail": "410"}
        )
    event = referral_event("requested")
    taken = intake.take_all([(event, ""), (event, "")], claim=5)  # the same event twice in a batch: once
    [row] = taken.claimed
    assert row["channel_id"] == "ch-hook" and len(taken.waiting) == 2
    assert (state(engine, row["id"])["state"], state(engine, row["id"])["attempts"]) == ("delivering", 1)
    assert deliveries.attempt(row["id"]) is None and deliveries.sweep(Queue()) == 0  # held: no second attempt
    assert deliveries.attempt_claimed(row) is State.DELIVERED
    assert receiver.ids() == [row["id"]] and [r["type"] for r in reports(engine)] == ["notification.delivered"]
    assert intake.take_all([(event, "")], claim=5).claimed == []  # seen before

    second = referral_event("requested", referral_id="5b9d0c1e-0000-4000-8000-000000000002")
    [lost] = intake.take_all([(second, "")], claim=1).claimed  # the consumer dies before it attempts
    assert deliveries.sweep(queue := Queue()) == 0
    clock.at += timedelta(seconds=31)
    assert deliveries.sweep(queue) >= 1 and lost["id"] in queue.sent
    assert deliveries.attempt(lost["id"]) is State.DELIVERED
    assert state(engine, lost["id"])["attempts"] == 2 and receiver.ids() == [row["id"], lost["id"]]


PAUSE = {"failures": 3, "since": datetime.now(UTC), "detail": "timeout"}


def test_a_removed_channel_ends_its_deliveries(engine: Engine, receiver: Receiver) -> None:
    intake, _ = setup(engine, [hook(receiver)])
    [ident] = intake.take(referral_event("requested"))
    _, after_removal = setup(engine, [])
    assert after_removal.attempt(ident) is State.DEAD
    assert reports(engine)[-1]["data"]["outcome"] == "channel_removed" and receiver.requests == []


def test_an_email_in_german_without_personal_data_with_a_link(engine: Engine, mailbox: Mailbox) -> None:
    mail = Channel("ch-mail", JUGENDAMT, Kind.EMAIL, "eingang@jugendamt.example", 1)
    intake, deliveries = setup(engine, [mail], mailbox)
    [ident] = intake.take(referral_event("requested"))
    assert deliveries.attempt(ident) is State.DELIVERED
    [message] = mailbox.messages
    assert message["To"] == "eingang@jugendamt.example"
    assert message["Subject"] == "[Dringend] Lotse: Neue Vermittlung an Ihre Stelle (SGB VIII)"
    assert message["Message-ID"] == f"<{ident}@lotse.notify>"
    text = message.get_content()  # type: ignore[attr-defined]
    assert "https://lotse.kreis.example/vermittlungen/5b9d0c1e-0000-4000-8000-000000000001" in text
    assert "Guten Tag" in text and "keine personenbezogenen Daten" in text
    assert "Rechtskreis: SGB VIII – Kinder- und Jugendhilfe" in text

    mailbox.refuse.add("alt@jugendamt.example")
    gone = Channel("ch-old", JUGENDAMT, Kind.EMAIL, "alt@jugendamt.example", 1)
    intake, deliveries = setup(engine, [gone], mailbox)
    [refused] = intake.take(referral_event("reminder_due"))
    assert deliveries.attempt(refused) is State.DEAD
    assert state(engine, refused)["last_status"] == 550


@pytest.mark.parametrize("answer", [302, 404])
def test_redirects_and_other_answers_are_failures_not_followed(engine: Engine, receiver: Receiver, answer: int) -> None:
    intake, deliveries = setup(engine, [hook(receiver)])
    receiver.answers = [answer]
    [ident] = intake.take(referral_event("requested"))
    assert deliveries.attempt(ident) is State.FAILED and state(engine, ident)["last_status"] == answer


def test_an_endpoint_that_gives_no_answer_is_paused_and_probed_so_its_deliveries_do_not_each_wait_it_out(
    engine: Engine, receiver: Receiver
) -> None:
    clock = Clock()
    with serving_receiver() as quiet:
        quiet.delay = 1.0  # beyond the sender's timeout: no answer
        silent = hook(quiet, id="ch-quiet")
        intake, deliveries = setup(engine, [silent, hook(receiver)], now=clock, timeout=0.3)
        made = [
            ident for kind in ("requested", "reminder_due", "cancelled") for ident in intake.take(referral_event(kind))
        ]
        a1, a2, a3 = [i for i in made if state(engine, i)["channel_id"] == "ch-quiet"]
        others = [i for i in made if state(engine, i)["channel_id"] == "ch-hook"]

        def pause() -> Any:
            with engine.connect() as conn:
                return conn.execute(select(endpoint_pause)).mappings().one_or_none()

        assert deliveries.attempt(a1) is State.FAILED and quiet.ids() == [a1]
        paused = pause()
        assert (paused["target"], paused["failures"]) == (quiet.url, 1)
        assert paused["detail"].startswith("keine Verbindung")
        # while paused, the others are not attempted, and their attempts are not spent
        assert deliveries.attempt(a2) is None and deliveries.attempt(a3) is None and quiet.ids() == [a1]
        for ident in (a2, a3):
            row = state(engine, ident)
            assert (row["state"], row["attempts"], row["lease_until"]) == ("pending", 0, None)
            assert row["next_due_at"] >= paused["until"]
        assert [deliveries.attempt(i) for i in others] == [State.DELIVERED] * 3  # other endpoints go on
        clock.at += timedelta(seconds=5)
        assert deliveries.attempt(a1) is None and state(engine, a1)["attempts"] == 1  # its retry waits too

        clock.at += timedelta(seconds=8)  # the pause (10 s, and up to 2 s to spread them) is over: one attempt
        # probes the endpoint, the others wait while it is out
        with deliveries.store.transaction() as session:
            assert session.take_probe(quiet.url, clock(), clock() + timedelta(seconds=15))
            assert not session.take_probe(quiet.url, clock(), clock() + timedelta(seconds=15))
            session.pause(quiet.url, 1, clock(), clock(), "keine Verbindung")  # back as it was: over, one failure
        assert deliveries.attempt(a2) is State.FAILED and quiet.ids() == [a1, a2]  # the probe: no answer again
        assert pause()["failures"] == 2  # paused twice as long
        assert deliveries.attempt(a3) is None and deliveries.attempt(a1) is None
        [listed] = deliveries.paused()  # for the operators
        assert (listed["target"], listed["failures"], listed["waiting"]) == (quiet.url, 2, 3)
        clock.at += timedelta(seconds=15)
        assert deliveries.attempt(a3) is None  # paused for 20 s now

        clock.at += timedelta(seconds=8)
        quiet.delay = 0.0  # it answers again
        assert deliveries.attempt(a3) is State.DELIVERED and pause() is None and deliveries.paused() == []
        assert deliveries.attempt(a1) is State.DELIVERED and deliveries.attempt(a2) is State.DELIVERED
        assert quiet.ids() == [a1, a2, a3, a1, a2]
        assert [(state(engine, i)["attempts"]) for i in (a1, a2, a3)] == [2, 2, 1]


def test_deliveries_that_waited_for_a_probe_are_due_as_soon_as_it_answers(engine: Engine) -> None:
    """Not when the probe's 15 s are up: the sweep sends them at its next pass."""
    clock = Clock()
    with serving_receiver() as slow:
        slow.delay = 1.5  # answers, but takes its time: the probe is under way while the other is claimed
        intake, deliveries = setup(engine, [hook(slow)], now=clock, timeout=10)
        prober, waiter = [i for kind in ("requested", "reminder_due") for i in intake.take(referral_event(kind))]
        with deliveries.store.transaction() as session:  # it gave no answer before; its pause is over now
            session.pause(slow.url, 1, clock(), clock(), "keine Verbindung")
        probed: list[State | None] = []
        probe = threading.Thread(target=lambda: probed.append(deliveries.attempt(prober)))
        probe.start()
        deadline = time.monotonic() + 5
        while not any(p["until"] > clock() for p in deliveries.paused()):  # the probe is taken
            assert time.monotonic() < deadline, "the probe was not taken"
            time.sleep(0.02)
        assert deliveries.attempt(waiter) is None  # waits for the probe
        assert state(engine, waiter)["next_due_at"] >= clock() + timedelta(seconds=15)
        probe.join()
        assert probed == [State.DELIVERED] and deliveries.paused() == []
        queue = Queue()
        assert deliveries.sweep(queue) == 1 and queue.sent == [waiter]  # the clock has not moved
        assert deliveries.attempt(waiter) is State.DELIVERED and slow.ids() == [prober, waiter]


def test_a_webhook_goes_to_the_address_that_was_checked_not_to_a_name_resolved_again() -> None:
    """DNS rebinding: the name is resolved once, checked, and the request goes to that address, with the
    name as Host and, over TLS, as the name the certificate must carry."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.jugendamt.example").configure_cert(server_tls)
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[Any]:
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    policy = TargetPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),), resolve=resolve)
    with ca.cert_pem.tempfile() as ca_file, serving_receiver(server_tls, "hooks.jugendamt.example") as receiver:
        sender = WebhookSender(timeout=5, targets=policy, ca_certs=ca_file)
        attempt = sender.send(hook(receiver), notice_for("d-1"))
        assert attempt.ok, attempt
        assert looked_up == ["hooks.jugendamt.example"]  # resolved by the policy, not by the system (no DNS here)
        [received] = receiver.requests
        assert received.headers["host"] == f"hooks.jugendamt.example:{receiver.url.split(':')[2].split('/')[0]}"
        # a certificate for another name is refused, though the address is the same
        other = WebhookSender(timeout=5, targets=policy, ca_certs=ca_file)
        wrong = replace(hook(receiver), target=receiver.url.replace("hooks.jugendamt.example", "other.example"))
        assert not other.send(wrong, notice_for("d-2")).ok
        # the name now points inside: nothing is sent
        inside = TargetPolicy(resolve=lambda host, port: [ipaddress.ip_address("10.0.0.7")])
        refused = WebhookSender(timeout=5, targets=inside, ca_certs=ca_file).send(hook(receiver), notice_for("d-3"))
        assert not refused.ok and refused.detail.startswith("Ziel nicht erlaubt") and not refused.unanswered
        assert len(receiver.requests) == 1
