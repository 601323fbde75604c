"""Who is calling: a public caller (no credentials) or a trusted one (an API key).

Public callers are browsers and mobile apps on the open internet. Trusted callers are the
tenant's backends and operators, holding one of the keys in `OTP_API_KEYS` and sending it as
`Authorization: Bearer <key>` (to the Twilio Verify compatible API: as the Basic password).
A key that is present but wrong is refused (401), never taken as a public call, so a
misconfigured backend finds out at once.
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
    if not key_matches(key.strip()):
        raise unauthorized("The API key is not valid.")
    return True


def key_matches(key: str) -> bool:
    """Whether `key` is one of the trusted callers' keys, however it was sent."""
    digest = hashlib.sha256(key.encode()).digest()
    known: tuple[bytes, ...] = current_app.extensions["otp"].api_keys
    # Every key is compared, whichever matches, so timing does not tell which one did.
    matched = [hmac.compare_digest(digest, candidate) for candidate in known]
    return any(matched)


def basic_matches(username: str) -> bool:
    """Whether the request carries HTTP Basic credentials naming `username`, with a trusted
    caller's key as the password (the form Twilio's SDKs send)."""
    given = request.authorization
    if given is None or given.type != "basic" or not given.password:
        return False
    same_user = hmac.compare_digest((given.username or "").encode(), username.encode())
    return key_matches(given.password) and same_user
