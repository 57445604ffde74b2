"""Data encrypted at rest (clients' data in routing, webhook secrets in the directory): Fernet (AES-128-CBC with
HMAC-SHA256) with rotating keys."""

import hashlib
import json
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Sealer(Protocol):
    """Encrypts a JSON value before it is stored; opens what it (or an older key) sealed."""

    current: str
    """The id of the key that seals now."""

    def seal(self, value: Any) -> str: ...

    def open(self, token: str) -> Any: ...


def key_id(key: str) -> str:
    """A short name of a key that does not reveal it (stored beside each sealed value)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class FernetSealer:
    """Seals JSON values with the newest key; opens what any configured key sealed.

    Rotation: put a new key first in the service's ``..._DATA_KEYS`` and keep the old ones after it; new
    values are sealed with the new key at once, and re-sealing the stored ones (``lotse-routing keys
    rotate``) lets the old keys go.
    """

    def __init__(self, keys: tuple[str, ...], setting: str = "LOTSE_ROUTING_DATA_KEYS") -> None:
        if not keys:
            raise ValueError("at least one data key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError:
            raise ValueError(
                f"{setting} holds a value that is no Fernet key (44 characters, URL-safe base64)"
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
