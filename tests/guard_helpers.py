"""What the fraud-guard and conversion tests share: a routing file, a clock, round trips."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis.connection
import yaml
from flask import Flask
from flask.testing import FlaskClient

from .conftest import outbox_code

# Limits out of the way: each test turns on the one it is about.
HIGH = {"floor": 100000, "factor": 0}
QUIET_GUARD: dict[str, Any] = {
    "mode": "enforce",
    "prefix": {"hour": HIGH, "day": HIGH, "own": 0},
    "country": {"hour": HIGH, "day": HIGH},
    "ip": {"countries": 100, "hour": HIGH},
    "blocks": [100, 1000, 10000],
    "escalate_within": 500,
}


def routing(guard: dict[str, Any] | None = None, **more: Any) -> str:
    """A routing file: one console provider for everything, and this `fraud_guard:`."""
    document: dict[str, Any] = {
        "providers": {"console": {"type": "console"}},
        "own_numbers": {"default": [{"provider": "console"}]},
        **more,
    }
    if guard is not None:
        document["fraud_guard"] = guard
    return yaml.safe_dump(document)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, mapping by mapping."""
    result = dict(base)
    for key, value in changes.items():
        inner = result.get(key)
        if isinstance(value, dict) and isinstance(inner, dict):
            value = merged(inner, value)
        result[key] = value
    return result


class Clock:
    """The service's clock for the guard and conversion: moves only when told."""

    def __init__(self) -> None:
        # Early in an hour and a day, so that a test's minutes stay within one bucket.
        self.now = float((int(time.time()) // 86400 + 1) * 86400 + 60)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def in_prefix(n: int) -> str:
    """The n-th number of one German prefix (+4915112345)."""
    return f"+4915112345{n:03d}"


def spread(n: int) -> str:
    """A German number of a prefix of its own for each n."""
    return f"+49151{n:05d}678"


def ask(client: FlaskClient, phone: str, ip: str = "198.51.100.1", **body: Any) -> Any:
    """POST /otp/request from a public client at `ip`."""
    return client.post(
        "/otp/request", json={"phone": phone, **body}, environ_base={"REMOTE_ADDR": ip}
    )


def ask_and_verify(client: FlaskClient, phone: str, ip: str = "198.51.100.1") -> None:
    answer = ask(client, phone, ip)
    assert answer.status_code == 202, answer.get_json()
    body = {"id": answer.get_json()["id"], "code": outbox_code(client, phone)}
    verified = client.post("/otp/verify", json=body, environ_base={"REMOTE_ADDR": ip})
    assert verified.status_code == 200, verified.get_json()


def with_clock(app: Flask, clock: Clock) -> Flask:
    """The app with its guard and conversion counting on `clock`."""
    services = app.extensions["otp"]
    for part in (services.guard, services.conversion):
        if part is not None:
            part.clock = clock
    return app


@contextlib.contextmanager
def round_trips() -> Iterator[Callable[[], int]]:
    """Counts every command or pipeline written to a Redis socket (as bench/redis_cost.py)."""
    sent = 0
    original = redis.connection.AbstractConnection.send_packed_command

    def send(self: Any, command: Any, check_health: bool = True) -> None:
        nonlocal sent
        sent += 1
        original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    try:
        yield lambda: sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
