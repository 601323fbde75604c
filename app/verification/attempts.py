"""How a verification keeps its delivery attempts: one compact line each in its hash.

The lines are short enough (with a console-sized message id) that Redis keeps the hash in its
compact encoding. Delivery says what happened (app/delivery/dispatch.py Attempt); this module
writes it down and reads it back for the API, the webhooks and rule 8.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.delivery.dispatch import Attempt


def lines(attempts: Iterable[Attempt]) -> str:
    """The stored lines of these attempts, newline-terminated."""
    return "".join(_line(attempt) for attempt in attempts)


def _line(attempt: Attempt) -> str:
    values = [
        attempt.provider,
        attempt.channel,
        int(attempt.own_numbers),
        round(attempt.started * 1000),
        round((attempt.finished - attempt.started) * 1000),
        attempt.outcome,
        attempt.message_id,
        attempt.error_class,
        attempt.error_code,
        "" if attempt.cost is None else attempt.cost,
        attempt.fallback,
    ]
    return "|".join(str(v).replace("|", "/").replace("\n", " ") for v in values) + "\n"


def parse(line: str) -> dict[str, Any]:
    """The attempt a stored line describes, as the API shows it."""
    # Lines stored before the fallback field have ten fields.
    provider, channel, own, started, took, outcome, message_id, klass, code, cost, *more = (
        line.split("|")
    )
    return {
        "provider": provider,
        "channel": channel,
        "own_numbers": own == "1",
        "started": int(started) / 1000,
        "finished": (int(started) + int(took)) / 1000,
        "outcome": outcome,
        "message_id": message_id,
        "error_class": klass,
        "error_code": code,
        "cost": float(cost) if cost else None,
        "fallback": more[0] if more and more[0] else None,
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
