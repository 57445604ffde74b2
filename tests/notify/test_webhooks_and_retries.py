"""Webhook signatures as the Standard Webhooks reference library verifies them, secret rotation, and the
retry schedule: backoff with jitter over hours, then dead; an endpoint gone is dead at once."""

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from lotse_contracts.webhooks import BadSecret, new_secret, sign, signed_headers, verify
from lotse_notify.domain.delivery import Attempt, Retries, State
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BODY = b'{"type":"referral.requested","referral_id":"4f1c"}'


def test_signatures_verify_with_the_reference_library_and_with_either_secret_while_rotating() -> None:
    old, new = new_secret(), new_secret()
    now = int(time.time())
    headers = signed_headers([new, old], "msg_2Kf9", now, BODY)
    assert headers["webhook-id"] == "msg_2Kf9" and headers["webhook-timestamp"] == str(now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(BODY.decode(), headers) == {"type": "referral.requested", "referral_id": "4f1c"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY.decode(), headers)
    with pytest.raises(WebhookVerificationError):  # the body is signed
        Webhook(new).verify(BODY.decode().replace("4f1c", "4f1d"), headers)
    # the same input, the same signature as the reference library makes
    reference = Webhook(new).sign("msg_2Kf9", datetime.fromtimestamp(now, UTC), BODY.decode())
    assert sign(new, "msg_2Kf9", now, BODY) == reference


def test_a_receiver_verifies_what_the_reference_library_signs_and_refuses_replays_and_forgeries() -> None:
    secret = new_secret()

    def headers_at(now: int, message_id: str = "msg_1") -> dict[str, str]:
        signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(now, UTC), BODY.decode())
        return {"webhook-id": message_id, "webhook-timestamp": str(now), "webhook-signature": f"v1,x {signature}"}

    now = int(time.time())
    headers = headers_at(now)
    assert verify([new_secret(), secret], headers, BODY)
    assert not verify([new_secret()], headers, BODY)
    assert not verify([secret], headers, BODY + b" ")
    assert not verify([secret], headers_at(now - 310), BODY)  # too old: a replay
    assert not verify([secret], {**headers, "webhook-timestamp": "gestern"}, BODY)
    assert not verify([secret], {**headers, "webhook-id": "msg_2"}, BODY)
    assert not verify([secret], {**headers, "webhook-signature": "kein Komma"}, BODY)  # malformed: refused, no raise


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "c2hvcnQ=", "whsec_c2hvcnQ="])
def test_a_bad_secret_is_refused(secret: str) -> None:
    with pytest.raises(BadSecret):
        sign(secret, "msg", 1, BODY)


def test_retries_back_off_with_jitter_over_hours_then_give_up() -> None:
    retries = Retries()
    rng = random.Random(5)
    delays = [retries.delay(n, rng).total_seconds() for n in range(1, retries.attempts)]
    expected = [10, 30, 90, 270, 810, 2430, 7290, 14400, 14400]
    for got, base in zip(delays, expected, strict=True):
        assert base * 0.8 <= got <= base * 1.2
    assert len({round(d / b, 6) for d, b in zip(delays, expected, strict=True)}) == len(delays)  # jittered
    assert 9 * 3600 < sum(delays) < 14 * 3600

    now = datetime(2026, 11, 22, 10, tzinfo=UTC)
    failed = Attempt(ok=False, detail="HTTP 500", status=500)
    state, due = retries.after(failed, 1, now)
    assert state is State.FAILED and due is not None and timedelta(seconds=8) <= due - now <= timedelta(seconds=12)
    assert retries.after(failed, retries.attempts, now) == (State.DEAD, None)
    assert retries.after(Attempt(ok=False, detail="HTTP 410", status=410, gone=True), 1, now) == (State.DEAD, None)
    assert retries.after(Attempt(ok=True, detail="HTTP 204", status=204), 3, now) == (State.DELIVERED, None)
