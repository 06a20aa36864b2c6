"""Secrets kept encrypted in the store, under the key the operator gives (HEADWAY_SECRET_KEY).

A sealed value is text, `hwsealed:v1:<key id>:<nonce and ciphertext in base64url>`, encrypted
with AES-256-GCM. The key id (16 hex digits of a hash of the key) says which key sealed it, so
a value sealed with HEADWAY_SECRET_KEY_PREVIOUS is recognised and sealed again with the current
key, and a value sealed with neither is reported as such rather than as a failed decryption.
The additional data is where the value lives (`github_apps.private_key.29310`): a sealed value
copied to another column or row does not open. A value without the prefix is plain text, as
stores before sealing wrote it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from headway.config import Settings
from headway.config_values import parse_secret_key
from headway.store.base import StoreError

__all__ = ["PREFIX", "Keyring", "NoSecretKey", "SealError", "is_sealed"]

PREFIX: Final = "hwsealed:v1:"
_NONCE = 12
_SET_KEY = (
    "set HEADWAY_SECRET_KEY to 32 random bytes in base64 (`openssl rand -base64 32`) on every "
    "server process and restart"
)


class SealError(StoreError):
    """A sealed value cannot be read with the keys configured, or nothing can be sealed."""


class NoSecretKey(SealError):
    """HEADWAY_SECRET_KEY is not set, so a secret cannot be stored."""


@dataclass(frozen=True, slots=True)
class _Key:
    id: str
    aead: AESGCM


def _key(raw: bytes) -> _Key:
    # The id is a hash of the key, told apart from the encryption key by HKDF: neither reveals
    # the other, and 32 random bytes cannot be guessed from 64 bits of a hash.
    key_id = hashlib.sha256(b"headway secret key id\x00" + raw).hexdigest()[:16]
    derived = HKDF(SHA256(), 32, salt=None, info=b"headway sealed values v1").derive(raw)
    return _Key(key_id, AESGCM(derived))


class Keyring:
    """The current key (seals and opens) and, while rotating, the previous one (opens only)."""

    def __init__(self, current: bytes | None, previous: bytes | None = None) -> None:
        self._current = _key(current) if current is not None else None
        self._previous = _key(previous) if previous is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        def raw(value: SecretStr | None) -> bytes | None:
            return None if value is None else parse_secret_key(value.get_secret_value())

        return cls(raw(settings.secret_key), raw(settings.secret_key_previous))

    def __repr__(self) -> str:  # the ids only, never the keys
        current = self._current.id if self._current else None
        previous = self._previous.id if self._previous else None
        return f"Keyring(current={current!r}, previous={previous!r})"

    @property
    def can_seal(self) -> bool:
        return self._current is not None

    def require(self, what: str) -> None:
        """Raise NoSecretKey, naming `what` would be stored, unless a key is set."""
        if self._current is None:
            raise NoSecretKey(
                f"HEADWAY_SECRET_KEY is not set, and Headway stores {what} only encrypted: "
                f"{_SET_KEY}"
            )

    def seal(self, value: str, where: str) -> str:
        self.require(where)
        assert self._current is not None
        nonce = os.urandom(_NONCE)
        sealed = self._current.aead.encrypt(nonce, value.encode(), where.encode())
        text = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self._current.id}:{text}"

    def open(self, stored: str, where: str) -> str:
        """The value of `stored`: itself when it is plain text, else decrypted."""
        if not is_sealed(stored):
            return stored
        key_id, _, text = stored[len(PREFIX) :].partition(":")
        key = next((k for k in (self._current, self._previous) if k and k.id == key_id), None)
        if key is None:
            if self._current is None:
                raise SealError(
                    f"{where} is stored encrypted but HEADWAY_SECRET_KEY is not set: set it to "
                    "the key it was stored with"
                )
            raise SealError(
                f"{where} was encrypted with a key that is neither HEADWAY_SECRET_KEY nor "
                f"HEADWAY_SECRET_KEY_PREVIOUS (key id {key_id[:16]}): set HEADWAY_SECRET_KEY "
                "to the key it was stored with, or that key as HEADWAY_SECRET_KEY_PREVIOUS "
                "while rotating"
            )
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            return key.aead.decrypt(raw[:_NONCE], raw[_NONCE:], where.encode()).decode()
        except (InvalidTag, ValueError):
            raise SealError(
                f"{where} does not decrypt with the key that sealed it: it was changed in the "
                "store or copied from another row; store it again"
            ) from None

    def stale(self, stored: str) -> bool:
        """Whether `stored` should be sealed again: plain text, or sealed with a key other
        than the current one. False when there is no current key to seal with."""
        if self._current is None:
            return False
        return not is_sealed(stored) or not stored.startswith(f"{PREFIX}{self._current.id}:")


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
