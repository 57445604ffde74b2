"""deploy/rabbitmq/definitions.json on the real broker: imported into a fresh virtual host (users and
permissions left out, so the shared broker's users stay as they are), the services declare their queues
over it without a mismatch, events reach the queues bound for them before any consumer ran, a rejected
message goes to its own queue's dead letters only, and the policies apply."""

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from lotse_contracts.events import DEAD_LETTERS, EXCHANGE
from lotse_kit.rabbitmq import connection_parameters
from lotse_notify.adapters.jobs.celery_app import CeleryJobs
from lotse_notify.bootstrap import build as build_notify
from lotse_notify.settings import Settings as NotifySettings
from lotse_routing.bootstrap import REPORT_QUEUE
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings

from tests.conftest import REPO, rabbitmq_tool

pytestmark = pytest.mark.rabbitmq

DEFINITIONS = REPO / "deploy/rabbitmq/definitions.json"
TOPOLOGY = ("exchanges", "queues", "bindings", "policies")


def _ctl(*args: str, given: str | None = None) -> str:
    command = [rabbitmq_tool("rabbitmqctl"), *args]
    done = subprocess.run(command, input=given, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def vhost_url(rabbitmq_url: str) -> Iterator[str]:
    name = f"lotse-definitions-{uuid.uuid4().hex[:8]}"
    definitions = json.loads(DEFINITIONS.read_text("utf-8"))
    for section in TOPOLOGY:
        for item in definitions[section]:
            assert item["vhost"] == "/"
            item["vhost"] = name
    imported = json.dumps({section: definitions[section] for section in TOPOLOGY})
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        _ctl("import_definitions", "--format", "json", given=imported)  # stdin: the broker cannot read our files
        wanted = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
        deadline = time.monotonic() + 30  # the import goes on after the command returned

        def imported_bindings() -> set[tuple[str, ...]]:
            listed = _ctl("list_bindings", "-p", name, "source_name", "destination_name", "routing_key", "-q")
            return {tuple(line.split("\t")) for line in listed.splitlines()}

        while not wanted <= imported_bindings():
            assert time.monotonic() < deadline, "the definitions were not imported within 30 s"
            time.sleep(0.2)
        yield rabbitmq_url.rsplit("/", 2)[0] + f"/{name}"
    finally:
        _ctl("delete_vhost", name)


def test_the_services_declare_their_queues_just_as_the_definitions_do(vhost_url: str, tmp_path: Path) -> None:
    env = {"LOTSE_VAR_DIR": str(tmp_path), "LOTSE_AMQP_URL": vhost_url, "LOTSE_AUTH_SECRET": "x" * 32}
    notify = build_notify(NotifySettings.from_env(env))
    routing = build_routing(RoutingSettings.from_env({**env, "LOTSE_ROUTING_DATA_KEYS": ""}))
    connection = pika.BlockingConnection(connection_parameters(vhost_url))
    try:
        channel = connection.channel()
        for subscriber in (notify.referral_subscriber(), routing.report_subscriber()):
            subscriber.declare(channel)  # a queue declared with other arguments closes the channel (406)
            assert channel.is_open, subscriber.queue
        jobs = notify.jobs
        assert isinstance(jobs, CeleryJobs)
        with jobs.app.connection_for_write() as celery:
            for queue in jobs.app.amqp.queues.values():
                queue(celery.default_channel).declare()  # Celery's delivery queue, as its worker declares it
        assert set(jobs.app.amqp.queues) == {f"{notify.settings.queue}.deliveries"}
    finally:
        connection.close()
        notify.engine.dispose()
        routing.engine.dispose()
    declared = {q["name"] for q in json.loads(DEFINITIONS.read_text("utf-8"))["queues"]}
    assert declared == {
        notify.settings.queue,
        f"{notify.settings.queue}.dead",
        f"{notify.settings.queue}.deliveries",
        REPORT_QUEUE,
        f"{REPORT_QUEUE}.dead",
    }


def test_events_wait_in_their_queues_and_rejected_ones_in_their_own_dead_letters(vhost_url: str) -> None:
    connection = pika.BlockingConnection(connection_parameters(vhost_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # each publish returns once the broker has it in every queue bound
        persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        channel.basic_publish(EXCHANGE, "referral.requested.sgb_viii.05954036", b'{"n": 1}', persistent)
        channel.basic_publish(EXCHANGE, "notification.delivered.sgb_viii.05954036", b'{"n": 2}', persistent)
        channel.basic_publish(EXCHANGE, "directory.organization.changed.any.any", b'{"n": 3}', persistent)

        def depth(queue: str) -> int:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

        assert depth("lotse.notify") == 1 and depth(REPORT_QUEUE) == 1
        method, _, body = channel.basic_get("lotse.notify")
        assert method is not None and body == b'{"n": 1}'
        channel.basic_reject(method.delivery_tag, requeue=False)
        connection.sleep(0.5)
        assert depth("lotse.notify") == 0
        assert depth("lotse.notify.dead") == 1 and depth(f"{REPORT_QUEUE}.dead") == 0
        method, _, body = channel.basic_get("lotse.notify.dead", auto_ack=True)
        assert body == b'{"n": 1}'
    finally:
        connection.close()
    policies = _ctl("list_queues", "-p", vhost_url.rsplit("/", 1)[1], "name", "policy", "--no-table-headers")
    applied = dict(line.split("\t") for line in policies.strip().splitlines() if "\t" in line)
    assert applied["lotse.notify"] == applied[REPORT_QUEUE] == "lotse-consumers"
    assert applied["lotse.notify.dead"] == applied[f"{REPORT_QUEUE}.dead"] == "lotse-dead-letters"
    assert DEAD_LETTERS == "lotse.dead"  # the exchange the definitions declare and bind the dead queues to
