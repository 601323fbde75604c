"""Verification ids, Redis keys and one-time codes.

The code is never stored. It is derived with RFC 4226 HOTP from a per-verification key
(HMAC of the server secret and the verification id), so a resend re-derives the same code;
Redis holds only an HMAC of the key and the code, which cannot be read back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app import keys, masking

TAG_LEN = 10  # base32 chars of the phone's hash tag (50 bits)
PURPOSE_LEN = 4  # base32 chars of the purpose's hash (20 bits)
RAND_LEN = 16  # base32 chars of randomness per verification (80 bits)
ID_LEN = TAG_LEN + PURPOSE_LEN + RAND_LEN
_ALPHABET = set("abcdefghijklmnopqrstuvwxyz234567")


def _b32(raw: bytes, length: int) -> str:
    """The first `length` base32 characters of `raw`: only the bytes they encode are encoded
    (each character holds 5 bits)."""
    return base64.b32encode(raw[: (length * 5 + 7) // 8]).decode().lower()[:length]


def hotp(key: bytes, counter: int, digits: int) -> str:
    """The RFC 4226 HOTP value (HMAC-SHA-1, dynamic truncation) of `key` at `counter`, as its
    last `digits` decimal digits: pyotp's value for 6 to 10 digits, which pyotp computes from
    a base32 text of the key, and also for 4 and 5, which pyotp refuses."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    truncated = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(truncated % 10**digits).zfill(digits)


@dataclass(frozen=True)
class VerificationRef:
    """Where a verification lives: its phone tag, purpose slot and random part."""

    tag: str
    slot: str
    rand: str = ""

    @property
    def id(self) -> str:
        return self.tag + self.slot + self.rand

    @property
    def seed(self) -> str:
        """What every verification of one destination and purpose shares: the route's draw."""
        return self.tag + self.slot

    @property
    def key(self) -> str:
        """The verification's hash; `{tag}` keeps every key of a phone in one Cluster slot."""
        return keys.key(self.tag, "v", self.slot)

    @property
    def quota_key(self) -> str:
        """The phone's send counters, in the same slot as its verifications."""
        return keys.key(self.tag, "q")

    def marker_key(self, send: int) -> str:
        """Set once the queue starts a verification's send number `send`."""
        return keys.key(self.tag, "m", self.slot + self.rand, send)

    def idempotency_key(self, sealed_key: str) -> str:
        """The first answer to a call made with an Idempotency-Key, next to the verification."""
        return keys.key(self.tag, "k", self.slot, sealed_key)

    def with_rand(self, rand: str) -> VerificationRef:
        return VerificationRef(self.tag, self.slot, rand)


class Codes:
    """Everything derived from the server secret."""

    def __init__(self, secret: str, length: int, test_numbers: dict[str, str]) -> None:
        self._secret = secret.encode()
        self.length = length
        self._test_numbers = test_numbers

    def _mac(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def seal(self, *parts: str) -> str:
        """An HMAC of `parts` under the server secret: a fingerprint that gives nothing away."""
        return self._mac("seal", *parts)[:16].hex()

    def ref_for(self, destination: str, purpose: str) -> VerificationRef:
        """The slot a destination's verification for `purpose` lives in, with a fresh rand."""
        tag = _b32(self._mac("tag", destination), TAG_LEN)
        slot = _b32(hashlib.sha256(purpose.encode()).digest(), PURPOSE_LEN)
        return VerificationRef(tag, slot, _b32(secrets.token_bytes(10), RAND_LEN))

    @staticmethod
    def parse_id(verification_id: str) -> VerificationRef | None:
        """The reference an id names, or None when it cannot be one of ours."""
        if len(verification_id) != ID_LEN or not set(verification_id) <= _ALPHABET:
            return None
        tag, rest = verification_id[:TAG_LEN], verification_id[TAG_LEN:]
        return VerificationRef(tag, rest[:PURPOSE_LEN], rest[PURPOSE_LEN:])

    def code(self, verification_id: str, destination: str) -> str:
        """The code of a verification: fixed for a configured test number, else HOTP."""
        code = self._test_numbers.get(destination)
        if code is None:
            code = hotp(self._mac("code", verification_id), 0, self.length)
        masking.keep_out(code)  # whatever is logged while it is in hand
        return code

    def digest(self, ref: VerificationRef, code: str) -> bytes:
        """What Redis stores and compares: an HMAC binding the code to its verification slot."""
        return self._mac("digest", ref.tag, ref.slot, code)[:12]

    def is_test_number(self, destination: str) -> bool:
        return destination in self._test_numbers
