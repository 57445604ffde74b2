"""The client's data encrypted at rest: Fernet (AES-128-CBC with HMAC-SHA256) with rotating keys."""

import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def key_id(key: str) -> str:
    """A short name of a key that does not reveal it (stored beside each sealed value)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class FernetSealer:
    """Seals JSON values with the newest key; opens what any configured key sealed.

    Rotation: put a new key first in ``LOTSE_ROUTING_DATA_KEYS`` and keep the old ones after it; new
    values are sealed with the new key at once, and ``lotse-routing keys rotate`` re-seals the stored
    ones, after which the old keys can go.
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one data key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise ValueError(
                "LOTSE_ROUTING_DATA_KEYS holds a value that is no key; make one with `lotse-routing keys new`"
            ) from None
        self.current = key_id(keys[0])

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("sealed with a key that is not configured (or damaged)") from exc

    def reseal(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()
