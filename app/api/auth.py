"""Who is calling: a public caller (no credentials) or a trusted one (an API key).

Public callers are browsers and mobile apps on the open internet. Trusted callers are the
tenant's backends and operators, holding one of the keys in `OTP_API_KEYS` and sending it as
`Authorization: Bearer <key>`. A key that is present but wrong is refused (401), never taken
as a public call, so a misconfigured backend finds out at once.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request

from app.errors import ApiError


def key_digests(keys: tuple[str, ...]) -> tuple[bytes, ...]:
    """What a key is compared by: digests of equal length, so the comparison's time says
    nothing about a key's length or its first differing character."""
    return tuple(hashlib.sha256(key.encode()).digest() for key in keys)


def is_trusted() -> bool:
    """Whether this request comes from a trusted caller; a wrong key raises 401."""
    trusted: bool | None = g.get("trusted")
    if trusted is None:
        trusted = g.trusted = _check(request.headers.get("Authorization"))
    return trusted


def require_trusted() -> None:
    """Refuse a public caller where only a trusted one may go."""
    if not is_trusted():
        raise unauthorized("This needs an API key: send Authorization: Bearer <key>.")


def unauthorized(message: str) -> ApiError:
    return ApiError("unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _check(header: str | None) -> bool:
    if header is None:
        return False
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise unauthorized("Send the API key as Authorization: Bearer <key>.")
    digest = hashlib.sha256(key.strip().encode()).digest()
    known: tuple[bytes, ...] = current_app.extensions["otp"].api_keys
    # Every key is compared, whichever matches, so timing does not tell which one did.
    matched = [hmac.compare_digest(digest, candidate) for candidate in known]
    if not any(matched):
        raise unauthorized("The API key is not valid.")
    return True
