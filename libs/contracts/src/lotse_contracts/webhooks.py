"""Webhook signatures after the Standard Webhooks convention (https://www.standardwebhooks.com): the contract
with receiving institutions. The directory makes the secrets (a maintainer's channel), notify signs with them.

Every request carries ``webhook-id`` (the same on every retry: the receiver's idempotency key),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``"<id>.<timestamp>.<body>"`` keyed with the secret's bytes. A secret is ``whsec_`` followed by base64.
While a secret is being rotated the request is signed with each active secret, space-separated, so a
receiver that knows either one accepts it.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix the convention gives secrets, not a secret)


class BadSecret(ValueError):
    """Not a webhook secret (``whsec_`` and base64 of at least 24 bytes)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise BadSecret("a webhook secret is 'whsec_' followed by base64") from None
    if not secret.startswith(SECRET_PREFIX) or len(key) < 24:
        raise BadSecret("a webhook secret is 'whsec_' followed by base64 of at least 24 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature: ``v1,<base64>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a request, signed with every active secret."""
    if not secrets_:
        raise BadSecret("a webhook needs at least one secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets_),
    }


def verify(secrets_: Sequence[str], headers: Mapping[str, str], body: bytes, now: float, tolerance: int = 300) -> bool:
    """A receiver's check: the request is signed with one of ``secrets_`` and its timestamp is within
    ``tolerance`` seconds of ``now`` (against replays). ``headers`` with lower-case names."""
    message_id = headers.get("webhook-id", "")
    try:
        timestamp = int(headers.get("webhook-timestamp", ""))
    except ValueError:
        return False
    if not message_id or abs(now - timestamp) > tolerance:
        return False
    expected = [sign(s, message_id, timestamp, body) for s in secrets_]
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(g, e) for g in given for e in expected)
