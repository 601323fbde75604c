"""Verification tokens: EdDSA-signed JWTs whose public key is served as a JWKS.

A token is a JWS in compact form (RFC 7515) assembled here: the header is encoded once, the
claims with orjson, and the Ed25519 signature comes from `cryptography`. Any JWT library
verifies it against the JWKS (the tests do, with PyJWT).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALGORITHM = "EdDSA"


def generate_pem() -> str:
    """A new Ed25519 private key in PKCS#8 PEM (development mode, tests)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _b64url(raw: bytes) -> str:
    return _b64url_bytes(raw).decode()


def _b64url_bytes(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


class TokenSigner:
    def __init__(self, pem: str, issuer: str, ttl: int) -> None:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("OTP_SIGNING_KEY must be an Ed25519 private key in PEM")
        self._key = key
        self.issuer = issuer
        self.ttl = ttl
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(public), "use": "sig"}
        self.kid = _b64url(hashlib.sha256(public).digest()[:12])
        self._jwk |= {"kid": self.kid, "alg": ALGORITHM}
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self.kid}
        self._header = _b64url_bytes(orjson.dumps(header)) + b"."

    def sign(self, phone: str, purpose: str, verification_id: str, **more: str) -> str:
        """A token for `phone` (or another subject); `more` claims say how it was verified."""
        now = int(time.time())
        claims = {
            **more,  # first: never in place of a claim below
            "iss": self.issuer,
            "sub": phone,
            "purpose": purpose,
            "vid": verification_id,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(12),
        }
        signed = self._header + _b64url_bytes(orjson.dumps(claims))
        return (signed + b"." + _b64url_bytes(self._key.sign(signed))).decode()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}
