"""Data encrypted at rest (clients' data in routing, webhook secrets in the directory): Fernet (AES-128-CBC with
HMAC-SHA256) with rotating keys; and keyed blind indexes, to find a sealed value by an exact text without
opening every row."""

import base64
import hashlib
import hmac
import json
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


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
        self._index_keys = [_index_key(k) for k in keys]

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("sealed with a key that is not configured (or damaged)") from exc

    def reseal(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    def index(self, text: str) -> str:
        """The blind index of ``text`` under the newest key: equal texts give equal values, which reveal
        nothing without the key (HMAC-SHA256 with a key derived from the data key)."""
        return self.indexes(text)[0]

    def indexes(self, text: str) -> tuple[str, ...]:
        """``text``'s blind index under each configured key, newest first: a value indexed before a rotation
        finished carries an older key's."""
        return tuple(hmac.new(k, text.encode(), hashlib.sha256).hexdigest() for k in self._index_keys)


def _index_key(key: str) -> bytes:
    """The key blind indexes are made with, derived from a data key (never the data key itself)."""
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lotse blind index v1")
    return kdf.derive(base64.urlsafe_b64decode(key.encode()))
