"""Twilio-style SIDs for this service's verifications: stable, opaque, and never the id.

A verification's `VE` SID is its Redis slot (the destination's hash tag and the purpose) and
the first 55 bits of its first handle, enciphered as one AES block under a key derived from
the server secret. So the SID is the same on every resend, needs no lookup table, and tells
nothing: not the internal id, not the hash tag, not whether two SIDs share a destination.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.verification.codes import PURPOSE_LEN, TAG_LEN, Codes, VerificationRef

VERIFICATION_SID = re.compile(r"VE[0-9a-f]{32}")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PREFIX_LEN = 11  # base32 characters of the first handle carried: 55 bits
_CHARS = TAG_LEN + PURPOSE_LEN + _PREFIX_LEN  # 25 characters, 125 bits
_PAD = 128 - 5 * _CHARS  # zero bits that complete the block, checked on the way back


class Sids:
    """Verification SIDs and the SIDs of their send attempts, keyed by the server secret."""

    def __init__(self, codes: Codes) -> None:
        self._codes = codes
        # One block, one key: ECB over a single block is the block cipher itself, a keyed
        # permutation of 128-bit values, which is all an opaque reversible SID needs.
        key = bytes.fromhex(codes.seal("twilio-verification-sid"))
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305

    def verification(self, root: VerificationRef) -> str:
        """The `VE` SID of the verification whose first handle is `root`."""
        text = root.tag + root.slot + root.rand[:_PREFIX_LEN]
        number = 0
        for char in text:
            number = number << 5 | _ALPHABET.index(char)
        encryptor = self._cipher.encryptor()
        block = encryptor.update((number << _PAD).to_bytes(16, "big")) + encryptor.finalize()
        return "VE" + block.hex()

    def slot(self, sid: str) -> tuple[VerificationRef, str] | None:
        """The slot a `VE` SID names (a ref without rand), and the first characters of the
        verification's first handle; None for anything that is not one of ours."""
        if not VERIFICATION_SID.fullmatch(sid):
            return None
        decryptor = self._cipher.decryptor()
        raw = decryptor.update(bytes.fromhex(sid[2:])) + decryptor.finalize()
        number = int.from_bytes(raw, "big")
        if number & ((1 << _PAD) - 1):
            return None
        number >>= _PAD
        text = "".join(_ALPHABET[number >> 5 * i & 31] for i in reversed(range(_CHARS)))
        tag, slot = text[:TAG_LEN], text[TAG_LEN : TAG_LEN + PURPOSE_LEN]
        return VerificationRef(tag, slot), text[TAG_LEN + PURPOSE_LEN :]

    def attempt(self, root: VerificationRef, number: int) -> str:
        """The `VL` SID of a verification's send number `number`."""
        return "VL" + self._codes.seal("twilio-attempt-sid", root.id, str(number))
