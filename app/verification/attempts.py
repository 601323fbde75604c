"""How a verification keeps its delivery attempts: one compact line each in its hash.

A line is the attempt's fields, separated by "|": provider, channel, own numbers (1 or 0),
started (unix ms), took (ms), outcome, message id, error class, error code, cost, fallback. The
channel is left empty when it is sms and the outcome when it is sent, and empty fields at the
end are left out, so that with a message id of up to about 30 characters the line keeps the
hash in Redis' compact encoding (lines written before kept every field, and ten before the
fallback). Delivery says what happened (app/delivery/dispatch.py Attempt); this module writes
it down and reads it back for the API, the webhooks and rule 8.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.delivery.dispatch import Attempt


def lines(attempts: Iterable[Attempt]) -> str:
    """The stored lines of these attempts, newline-terminated."""
    return "".join(_line(attempt) for attempt in attempts)


# What an empty channel and an empty outcome stand for.
_CHANNEL, _OUTCOME = "sms", "sent"
_FIELDS = 11


def _line(attempt: Attempt) -> str:
    values = [
        attempt.provider,
        "" if attempt.channel == _CHANNEL else attempt.channel,
        int(attempt.own_numbers),
        round(attempt.started * 1000),
        round((attempt.finished - attempt.started) * 1000),
        "" if attempt.outcome == _OUTCOME else attempt.outcome,
        attempt.message_id,
        attempt.error_class,
        attempt.error_code,
        "" if attempt.cost is None else attempt.cost,
        attempt.fallback,
    ]
    texts = [str(v).replace("|", "/").replace("\n", " ") for v in values]
    while not texts[-1]:
        texts.pop()
    return "|".join(texts) + "\n"


def parse(line: str) -> dict[str, Any]:
    """The attempt a stored line describes, as the API shows it."""
    provider, channel, own, started, took, outcome, message_id, klass, code, cost, fallback = (
        line.split("|") + [""] * _FIELDS
    )[:_FIELDS]
    return {
        "provider": provider,
        "channel": channel or _CHANNEL,
        "own_numbers": own == "1",
        "started": int(started) / 1000,
        "finished": (int(started) + int(took)) / 1000,
        "outcome": outcome or _OUTCOME,
        "message_id": message_id,
        "error_class": klass,
        "error_code": code,
        "cost": float(cost) if cost else None,
        "fallback": fallback or None,
    }


def parse_all(stored: str) -> list[dict[str, Any]]:
    return [parse(line) for line in stored.splitlines() if line]


def last_sent(stored: str) -> dict[str, Any] | None:
    """The last attempt that was accepted, from a verification's stored lines."""
    sent = [attempt for attempt in parse_all(stored) if attempt["outcome"] == "sent"]
    return sent[-1] if sent else None


def last_delivered(stored: str) -> str | None:
    """The provider of the last attempt that was accepted."""
    attempt = last_sent(stored)
    return attempt["provider"] if attempt else None
