"""Webhook signatures after the Standard Webhooks convention (https://www.standardwebhooks.com): the contract
with receiving institutions. The directory makes the secrets (a maintainer's channel), notify signs with them.

Every request carries ``webhook-id`` (the same on every retry: the receiver's idempotency key),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``"<id>.<timestamp>.<body>"`` keyed with the secret's bytes. A secret is ``whsec_`` followed by base64.
While a secret is being rotated the request is signed with each active secret, space-separated, so a
receiver that knows either one accepts it.
"""

import base64
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix the convention gives secrets, not a secret)


class BadSecret(ValueError):
    """Not a webhook secret (``whsec_`` and base64 of at least 24 bytes)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key of a secret, checked more strictly than the reference library does (it pads and accepts any
    length), so that a maintainer's typo is refused when the channel is saved, not at the first webhook."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise BadSecret("a webhook secret is 'whsec_' followed by base64") from None
    if not secret.startswith(SECRET_PREFIX) or len(key) < 24:
        raise BadSecret("a webhook secret is 'whsec_' followed by base64 of at least 24 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``, made by the convention's reference library."""
    return Webhook(secret_bytes(secret)).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body.decode())


def signed_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a request, signed with every active secret."""
    if not secrets_:
        raise BadSecret("a webhook needs at least one secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets_),
    }


def verify(secrets_: Sequence[str], headers: Mapping[str, str], body: bytes) -> bool:
    """A receiver's check, by the reference library: the request is signed with one of ``secrets_`` and its
    timestamp is within five minutes of the clock (against replays). The library gives up on the first
    signature it cannot parse, so each signature of the header is given to it on its own."""
    given = {name.lower(): value for name, value in headers.items()}
    for signature in given.get("webhook-signature", "").split():
        one = {**given, "webhook-signature": signature}
        for secret in secrets_:
            try:
                Webhook(secret_bytes(secret)).verify(body, one, json_parse=False)
            except (WebhookVerificationError, ValueError):  # a malformed signature raises ValueError
                continue
            return True
    return False
