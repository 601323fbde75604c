"""Idempotency-Key on POST /otp/request and /otp/verify: a retried call gets the first answer.

A client whose answer was lost (a flaky mobile network) sends the same call again with the same
key; the service answers what it answered the first time, with `Idempotent-Replayed: true`,
and sends nothing and counts nothing again. The record lives next to the verification (same
hash tag) for the verification's lifetime and holds the answer, never a code: the request is
kept only as an HMAC fingerprint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request

from app import luascripts
from app.errors import ApiError, envelope
from app.verification.codes import VerificationRef

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # 1 to 255 visible ASCII characters


class Records:
    """The stored first answers, one per key, in Redis."""

    def __init__(self, client: Any, ttl: int, in_progress_ttl: int) -> None:
        self.client = client
        self.ttl = ttl
        self.in_progress_ttl = in_progress_ttl
        self._claim = luascripts.register(client, "app.api", "claim")

    def claim(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        """None when this call may run (the key is now held in progress), else the record."""
        pending = json.dumps({"f": fingerprint})
        held = self._claim(keys=[key], args=[pending, self.in_progress_ttl])
        return json.loads(held) if held else None

    def keep(self, key: str, fingerprint: str, response: Response) -> None:
        record = {"f": fingerprint, "s": response.status_code, "b": response.get_data(True)}
        self.client.set(key, json.dumps(record), ex=self.ttl)

    def release(self, key: str) -> None:
        self.client.delete(key)


def answer(scope: VerificationRef, produce: Callable[[], Response]) -> Response:
    """Run `produce`, or replay the first answer to the same Idempotency-Key and body."""
    given = request.headers.get(HEADER)
    if given is None:
        return produce()
    if not _KEY.fullmatch(given):
        raise ApiError(
            "validation_error",
            f"{HEADER} must be 1 to 255 visible ASCII characters.",
            {"header": HEADER},
        )
    services = current_app.extensions["otp"]
    records: Records = services.idempotency
    key = scope.idempotency_key(services.service.codes.seal("idempotency-key", given))
    fingerprint = services.service.codes.seal(request.method, request.path, _canonical_body())
    held = records.claim(key, fingerprint)
    if held is not None:
        return _replay(held, fingerprint)
    try:
        response = produce()
    except ApiError as error:
        response = envelope(error)
    except Exception:
        records.release(key)
        raise
    if _worth_keeping(response.status_code):
        records.keep(key, fingerprint, response)
    else:
        records.release(key)
    return response


def _canonical_body() -> str:
    """The body as its JSON value (read by app/api/body.py), so key order and spacing do not
    make it another call."""
    return json.dumps(g.get("json_body"), sort_keys=True, separators=(",", ":"))


def _worth_keeping(status: int) -> bool:
    """An answer the same call would get again: not a fault, not a limit that passes."""
    return status < 500 and status not in {409, 429}


def _replay(held: dict[str, Any], fingerprint: str) -> Response:
    if held["f"] != fingerprint:
        raise ApiError(
            "idempotency_mismatch",
            f"This {HEADER} was used with another request; use a new key for a new request.",
        )
    if "s" not in held:
        raise ApiError(
            "idempotency_in_progress",
            f"A request with this {HEADER} is still being answered.",
            retry_after=1,
        )
    response = Response(held["b"], status=held["s"], mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
