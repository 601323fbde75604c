"""How a stored verification is shown: to its API clients and to business-system webhooks."""

from __future__ import annotations

import time
from typing import Any

from app.delivery import phone

from .attempts import parse_all
from .store import STATUS_NAMES


def destination(fields: dict[str, str]) -> phone.Destination:
    """A stored verification's destination, as it was parsed when the code was asked for."""
    return phone.Destination(fields["to"], fields["cc"], phone.KINDS.get(fields.get("k", "")))


def masked(fields: dict[str, str]) -> str:
    """A stored verification's destination, masked."""
    return phone.Destination(fields["to"], "").masked


def attempts(fields: dict[str, str]) -> list[dict[str, Any]]:
    """Every delivery attempt, with the provider's delivery report where one came in."""
    # The attempt in flight of a queued send ("sending"), if one is, comes last.
    tried = parse_all(fields.get("at", "") + fields.get("af", ""))
    reports = [line.split("|") for line in fields.get("rc", "").splitlines() if line]
    for attempt in tried:
        for message_id, status, code in reports:
            if message_id == attempt["message_id"]:
                attempt["delivery"] = {"status": status, "code": code or None}
    return tried


def state(fields: dict[str, str], handle: str, allowed: int) -> str:
    """Where a verification stands for the holder of `handle`: a handle whose wrong tries
    are spent is burned although the verification may still be pending for others."""
    wrong = fields["w"] if handle == fields["r"] else fields.get(handle, "0")
    if fields["s"] == "p" and int(wrong) >= allowed:
        return "too_many_attempts"
    return STATUS_NAMES.get(fields["s"], fields["s"])


def public(verification_id: str, state: str, fields: dict[str, str]) -> dict[str, Any]:
    """What anyone holding the id may see (GET /otp/<id> without an API key)."""
    return {
        "id": verification_id,
        "status": state,
        "channel": fields["c"],
        "to": masked(fields),
        "expires_in": int(fields["ttl"]),
        "resend_after": max(0, int(fields["nx"]) - int(time.time())),
    }


def describe(
    verification_id: str, state: str, fields: dict[str, str], route: dict[str, Any]
) -> dict[str, Any]:
    """The full answer of GET /otp/<id>, for trusted callers."""
    return {
        **public(verification_id, state, fields),
        "purpose": fields["pu"],
        "country": fields["cc"] or None,
        "expires_at": int(time.time()) + int(fields["ttl"]),
        "sends": int(fields["n"]),
        "attempts": attempts(fields),
        "route": route,
    }


def event_data(
    verification_id: str, status: str, channel: str, to: str, country: str, purpose: str
) -> dict[str, Any]:
    """What a webhook tells about a verification: never its code, its destination masked."""
    return {
        "id": verification_id,
        "status": status,
        "channel": channel,
        "to": to,
        "country": country or None,  # e-mail has none
        "purpose": purpose,
    }
