"""Redis round trips per endpoint, and Redis memory per pending verification.

Run: .venv/bin/python bench/redis_cost.py [--count 10000] [--redis-url redis://127.0.0.1:6379/14]
Without --redis-url an embedded Redis is started in a temporary directory. Round trips are
counted on the client side (one per command or pipeline written to the socket); commands
are counted on the server with INFO commandstats. Rate limiting stays on (set high enough
not to trigger), as do hashing, the atomic scripts and token signing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis.connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app

CONFIG = {
    "OTP_ENV": "development",
    "OTP_LIMIT_IP_REQUEST": "100000000/minute",
    "OTP_LIMIT_IP_VERIFY": "100000000/minute",
    "OTP_LIMIT_PHONE_HOURLY": "1000",
    "OTP_LIMIT_PHONE_DAILY": "1000",
}


class RoundTrips:
    """Counts every write of a command or a pipeline to a Redis socket."""

    count = 0

    @classmethod
    @contextlib.contextmanager
    def counting(cls) -> Iterator[None]:
        original = redis.connection.AbstractConnection.send_packed_command

        def send(self: Any, command: Any, check_health: bool = True) -> None:
            cls.count += 1
            original(self, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        try:
            yield
        finally:
            redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def phone(n: int) -> str:
    return f"+4915{n:09d}"


def commands(client: Any) -> int:
    return sum(stats["calls"] for stats in client.info("commandstats").values())


def per_call(label: str, client: Any, count: int, call: Callable[[int], None]) -> dict[str, Any]:
    before_commands, RoundTrips.count = commands(client), 0
    with RoundTrips.counting():
        for n in range(count):
            call(n)
    trips = RoundTrips.count / count
    used = (commands(client) - before_commands - 1) / count  # less the INFO itself
    print(f"{label:<28} {trips:5.2f} round trips, {used:5.2f} commands per call")
    return {"endpoint": label, "round_trips": trips, "commands": used}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    with in_process(args.redis_url) as (app, http, client):
        print(json.dumps(measure(app, http, client, args.count)))


@contextlib.contextmanager
def in_process(redis_url: str) -> Iterator[tuple[Any, Any, Any]]:
    """The service as the benchmark configures it, its test client and its Redis client (the
    database emptied first); an embedded Redis in a temporary directory when `redis_url` is
    empty."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app({**CONFIG, "OTP_DATA_DIR": data_dir, "REDIS_URL": redis_url})
        client = app.extensions["otp"].redis
        client.flushdb()
        yield app, app.test_client(), client


def measure(app: Any, http: Any, client: Any, count: int) -> dict[str, Any]:
    sample = min(count, 1000)
    ids: list[str] = []
    with contextlib.redirect_stderr(io.StringIO()):
        http.post("/otp/request", json={"phone": phone(10**8)})  # warm-up: scripts loaded
        trips = [
            per_call(
                "POST /otp/request",
                client,
                sample,
                lambda n: ids.append(
                    http.post("/otp/request", json={"phone": phone(n)}).get_json()["id"]
                ),
            )
        ]
        derive = app.extensions["otp"].service.codes.code
        codes = [derive(ids[n], phone(n)) for n in range(sample)]
        trips.append(
            per_call(
                "POST /otp/verify (wrong)",
                client,
                sample,
                lambda n: http.post("/otp/verify", json={"id": ids[n], "code": wrong(codes[n])}),
            )
        )
        trips.append(
            per_call(
                "POST /otp/verify (correct)",
                client,
                sample,
                lambda n: http.post("/otp/verify", json={"id": ids[n], "code": codes[n]}),
            )
        )
        client.flushdb()
        memory = memory_per_pending(http, client, count)
    return {"round_trips": trips, "memory": memory}


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def memory_per_pending(http: Any, client: Any, count: int) -> dict[str, Any]:
    http.post("/otp/request", json={"phone": phone(10**8)})  # the outbox and limiter keys exist
    base = client.info("memory")["used_memory"]
    for n in range(count):
        http.post("/otp/request", json={"phone": phone(n)})
    used = client.info("memory")["used_memory"] - base
    keys = {"verification": b"otp:{*}:v:*", "destination quota": b"otp:{*}:q"}
    sizes = {}
    for name, pattern in keys.items():
        key = next(client.scan_iter(match=pattern, count=1000))
        sizes[name] = client.memory_usage(key)
    result = {"pending": count, "bytes_per_pending": used / count, "sample_key_bytes": sizes}
    print(
        f"memory: {used / count:.0f} bytes per pending verification over {count} "
        f"(INFO used_memory delta); MEMORY USAGE of one key: {sizes}"
    )
    return result


if __name__ == "__main__":
    main()
