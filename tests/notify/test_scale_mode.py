"""Notify in scale mode on the real servers: routing (PostgreSQL) publishes referral events to RabbitMQ,
`lotse-notify consume` and `lotse-notify worker --beat` run as processes on their own PostgreSQL database,
a real webhook receiver and a real SMTP server get each notification exactly once (by id), signed, and
routing hears the delivery reports from its queue."""

import time

import pytest
from lotse_contracts.webhooks import verify

from tests.conftest import metric_samples
from tests.notify.conftest import Channels, Mailbox, Receiver, Scale, call, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def test_each_referral_is_notified_exactly_once_by_webhook_and_email_through_rabbitmq_and_celery(
    scale: Scale, channels: Channels, receiver: Receiver, mailbox: Mailbox
) -> None:
    secret = channels.add(scale.jugendamt, "webhook", receiver.url)["secrets"][0]["secret"]
    channels.add(scale.jugendamt, "email", "eingang@jugendamt-witten.example")
    scale.start("consume", "worker --beat")
    scale.refer(20, threads=1)
    referrals = scale.referrals
    wait_for(lambda: len(set(receiver.ids())) >= 20 and len(mailbox.messages) >= 20, 60, "all notifications")
    time.sleep(2)  # anything sent twice would come now
    by_referral: dict[str, set[str]] = {}
    for request in receiver.requests:
        assert verify([secret], request.headers, request.body)
        by_referral.setdefault(request.json["data"]["referral_id"], set()).add(request.headers["webhook-id"])
    assert sorted(by_referral) == sorted(referrals)
    assert all(len(ids) == 1 for ids in by_referral.values())
    assert len(receiver.requests) == 20  # exactly once: no retry was needed
    mails = [m["Message-ID"] for m in mailbox.messages]
    assert len(mails) == len(set(mails)) == 20

    def reported() -> bool:
        return all(
            len(call("GET", f"{scale.routing_url}/api/v1/referrals/{r}", scale.sender)[1]["notifications"]) == 2
            for r in referrals
        )

    wait_for(reported, 30, "reports in routing")

    # what an operator's Prometheus reads from the consumer and the worker
    status, text = scale.probe("consume", "/metrics")
    consumed = metric_samples(text)
    assert status == 200 and consumed["lotse_notify_event_lag_seconds_count"] == 20
    assert consumed[f'lotse_queue_messages_ready{{queue="{scale.env["LOTSE_NOTIFY_QUEUE"]}"}}'] == 0
    assert consumed[f'lotse_queue_consumers{{queue="{scale.env["LOTSE_NOTIFY_QUEUE"]}"}}'] >= 1
    status, text = scale.probe("worker", "/metrics")
    delivered = metric_samples(text)
    assert status == 200 and delivered['lotse_notify_deliveries{state="delivered"}'] == 40
    assert delivered['lotse_notify_deliveries{state="dead"}'] == 0
    assert delivered["lotse_metrics_collector_errors"] == 0
    for name in ("consume", "worker"):
        status, text = scale.probe(name, "/ready")
        assert status == 200 and '"broker": "ok"' in text and '"database": "ok"' in text, text
