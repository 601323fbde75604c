"""Factor secrets sealed at rest with AES-GCM under keys named by a key id.

A sealed secret reads `<key id>.<base64url(nonce + ciphertext)>`. The associated data binds it
to its factor id and entity, so a ciphertext copied onto another factor (or another entity)
does not open. The first key seals; every key opens, so keys rotate without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEVELOPMENT_KEY_ID = "dev"
_NONCE_BYTES = 12


class SealError(Exception):
    """A sealed secret that cannot be opened: its key id is not configured, or the key under
    that id does not open it. Carries the key id, never the secret."""

    def __init__(self, key_id: str, reason: str) -> None:
        super().__init__(f"key id {key_id!r}: {reason}")
        self.key_id = key_id
        self.reason = reason


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _associated(factor_id: str, entity: str) -> bytes:
    return f"otp-totp-v1\x1f{factor_id}\x1f{entity}".encode()


def key_id_of(sealed: str) -> str:
    """The id of the key a sealed secret was sealed under."""
    return sealed.partition(".")[0]


class Keyring:
    """The AES-GCM keys of OTP_TOTP_KEYS, by key id; the first one seals."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self.primary = keys[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def development(cls, server_secret: str) -> Keyring:
        """Development mode without OTP_TOTP_KEYS: one key derived from the server secret."""
        key = hmac.new(server_secret.encode(), b"totp-development-key", hashlib.sha256).digest()
        return cls([(DEVELOPMENT_KEY_ID, key)])

    def seal(self, secret: str, factor_id: str, entity: str) -> str:
        """The secret, sealed under the first key and bound to its factor and entity."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self.primary].encrypt(
            nonce, secret.encode(), _associated(factor_id, entity)
        )
        return f"{self.primary}.{_b64(nonce + sealed)}"

    def open(self, sealed: str, factor_id: str, entity: str) -> str:
        """The secret; SealError when its key id is unknown or the key does not open it."""
        key_id, _, blob = sealed.partition(".")
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise SealError(key_id, "not in OTP_TOTP_KEYS")
        try:
            raw = _unb64(blob)
            opened = cipher.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(factor_id, entity)
            )
        except (InvalidTag, ValueError):
            raise SealError(key_id, "the key under this id does not open the secret") from None
        return opened.decode()
