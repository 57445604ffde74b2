"""Faults in scale mode, on the real servers (bounded in count and time): the broker restarted with 500
referrals in flight, the Celery worker and the consumer killed with -9 mid-delivery, and a webhook receiver
that answers 500 for a while. In each case every referral's notification reaches the receiver under one
webhook-id, is accepted there once, routing hears the report, and nothing is left stuck: every delivery is
delivered, the outboxes are published, and the queues and their dead-letter queues are empty."""

import json
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from lotse_contracts.webhooks import verify

from tests.conftest import rabbitmq_tool
from tests.notify.conftest import REPORTS, Channels, Receiver, Scale, restart_rabbitmq, start_rabbitmq, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _webhook(scale: Scale, channels: Channels, receiver: Receiver) -> str:
    return str(channels.add(scale.jugendamt, "webhook", receiver.url)["secrets"][0]["secret"])


def _all_accepted(scale: Scale, receiver: Receiver, count: int, seconds: float) -> None:
    def done() -> bool:
        return len({r.json["data"]["referral_id"] for r in receiver.accepted()}) >= count

    wait_for(done, seconds, f"{count} notifications accepted")


def _every_referral_told_once(scale: Scale, receiver: Receiver, secret: str) -> Counter[str]:
    """Each referral reached the receiver under one webhook-id, signed, and was accepted; nothing is stuck.
    Returns how many requests each webhook-id took."""
    time.sleep(3)  # a repeat, if any, would come now (the sweep runs every second, a lease is 5 s)
    ids_of: dict[str, set[str]] = {}
    for request in receiver.requests:
        assert verify([secret], request.headers, request.body)
        ids_of.setdefault(request.json["data"]["referral_id"], set()).add(request.headers["webhook-id"])
    assert sorted(ids_of) == sorted(scale.referrals)
    assert all(len(ids) == 1 for ids in ids_of.values())
    assert len({r.headers["webhook-id"] for r in receiver.accepted()}) == len(scale.referrals)

    count = len(scale.referrals)
    assert scale.delivery_states() == Counter({"delivered": count})
    wait_for(lambda: scale.reports() == count, 60, "every report in routing")
    wait_for(scale.outboxes_empty, 30, "both outboxes published")
    queue = scale.env["LOTSE_NOTIFY_QUEUE"]
    for name in (queue, f"{queue}.dead", REPORTS, f"{REPORTS}.dead"):
        assert scale.depth(name) == 0, name
    wait_for(lambda: scale.depth(f"{queue}.deliveries") == 0, 10, "the delivery queue drained")
    return Counter(r.headers["webhook-id"] for r in receiver.requests)


# On either pool of the worker: Celery stalled on the threads pool after a broker restart until the prefetch
# count's restore was switched off (see worker.py); a killed prefork worker takes its children with it.
POOLS = pytest.mark.parametrize("worker", ["worker", "worker --pool prefork"], ids=["threads", "prefork"])


@POOLS
def test_a_broker_restart_with_500_referrals_in_flight_loses_none_and_repeats_none(
    scale: Scale, channels: Channels, receiver: Receiver, worker: str
) -> None:
    secret = _webhook(scale, channels, receiver)
    scale.start("consume", worker, "beat")
    try:
        with ThreadPoolExecutor(1) as pool:
            creating = pool.submit(scale.refer, 500)
            wait_for(lambda: len(scale.referrals) >= 150 and len(receiver.accepted()) >= 10, 60, "the first ones")
            created, told = len(scale.referrals), len({r.json["data"]["referral_id"] for r in receiver.accepted()})
            restart_rabbitmq()  # referrals are created on while the broker is away
            creating.result(timeout=300)
    finally:
        start_rabbitmq()
    print(f"at the restart: {created} referrals created, {told} told")
    assert told < created  # some were in flight
    _all_accepted(scale, receiver, 500, 180)
    requests = _every_referral_told_once(scale, receiver, secret)
    assert set(requests.values()) == {1}  # not one request repeated


@POOLS
def test_killing_worker_and_consumer_mid_delivery_loses_none_and_repeats_only_under_the_same_id(
    scale: Scale, channels: Channels, receiver: Receiver, worker: str
) -> None:
    secret = _webhook(scale, channels, receiver)
    receiver.delay = 0.2  # each answer takes a while: the kill comes while requests are open
    scale.start("consume", worker, "beat")
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(scale.refer, 200)
        wait_for(lambda: len(receiver.requests) >= 40, 60, "the first 40 requests")
        scale.kill("consume", "worker")
        held = scale.delivery_states()["delivering"]
        creating.result(timeout=120)  # created while nobody consumes
    assert held > 0  # deliveries were under way when the worker died
    scale.start("consume", worker)  # beat ran on
    _all_accepted(scale, receiver, 200, 120)
    requests = _every_referral_told_once(scale, receiver, secret)
    repeated = sum(n - 1 for n in requests.values())
    print(f"{held} deliveries held at the kill; {repeated} requests repeated under their webhook-id")
    assert repeated <= held  # only what was under way at the kill goes again (at least once, same id)


def test_a_receiver_failing_for_a_while_gets_every_notification_once_it_answers(
    scale: Scale, channels: Channels, receiver: Receiver
) -> None:
    secret = _webhook(scale, channels, receiver)
    receiver.failing = True
    scale.start("consume", "worker", "beat")
    scale.refer(100)

    def each_tried_twice() -> bool:
        tries = Counter(r.json["data"]["referral_id"] for r in receiver.requests)
        return len(tries) == 100 and min(tries.values()) >= 2

    wait_for(each_tried_twice, 60, "every notification tried twice")
    receiver.failing = False
    _all_accepted(scale, receiver, 100, 60)
    requests = _every_referral_told_once(scale, receiver, secret)
    assert min(requests.values()) >= 3  # two refusals, then the one accepted
    for webhook_id in requests:  # after its 200, a webhook-id is never sent again
        answers = [r.status for r in receiver.requests if r.headers["webhook-id"] == webhook_id]
        assert answers[-1] == 200 and answers.count(200) == 1


def test_a_stopped_broker_turns_ready_red_everywhere_and_a_started_one_green_again(scale: Scale) -> None:
    """What a load balancer and Kubernetes read: routing's API and notify's consumer, worker and beat say
    they are not ready, naming the broker, while RabbitMQ is stopped, and ready again once it is back; their
    liveness stays green all along (nothing to restart)."""
    scale.start("consume", "worker", "beat")

    def ready() -> dict[str, tuple[int, str]]:
        found = {name: scale.probe(name, "/ready") for name in ("consume", "worker", "beat")}
        answer = urllib3.request("GET", f"{scale.routing_url}/ready", timeout=10, retries=False)
        return found | {"routing": (answer.status, answer.data.decode())}

    wait_for(lambda: all(status == 200 for status, _ in ready().values()), 30, "all ready")
    subprocess.run([rabbitmq_tool("rabbitmqctl"), "stop"], capture_output=True, timeout=60, check=True)
    try:
        wait_for(lambda: all(status == 503 for status, _ in ready().values()), 30, "all not ready")
        for name, (_, body) in ready().items():
            assert [e["name"] for e in json.loads(body)["errors"]] == ["broker"], (name, body)
            if name != "routing":
                assert scale.probe(name, "/health")[0] == 200, name
    finally:
        start_rabbitmq()
    wait_for(lambda: all(status == 200 for status, _ in ready().values()), 60, "all ready again")
