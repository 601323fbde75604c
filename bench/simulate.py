"""The fraud guard and the conversion strategy, simulated against the real service.

Run: .venv/bin/python bench/simulate.py [--redis-url redis://127.0.0.1:6379/12] [--results DIR]

The service runs in this process in development mode (create_app, its test client: every
request goes through the whole Flask stack, the Lua scripts and the routing file), with `http`
providers posting to local stand-ins (bench/standin.py) that deliver with set probabilities.
Simulated users enter the codes that reach them; simulated bots never do. Client addresses
arrive as X-Forwarded-For, trusted with OTP_TRUSTED_PROXIES=1.

Time is compressed: the guard and the conversion counts read the clock they are given
(`Guard.clock`, `Conversion.clock`: the service's injectable clock), and the simulator sets it
to each event's simulated time, so a simulated day passes in seconds. What does not read that
clock keeps real time and is set out of the way: the per-IP limits (flask-limiter) and the
per-destination quotas are raised; every user's number is new, so cooldowns never apply.

1. conversion: provider a's delivery drops from 95 % to 40 % in one country while b stays at
   90 %; verifications until a leads fewer than 20 % of the new sends, and the conversion lost
   meanwhile.
2. pumping: 20 requests a second to random numbers of one prefix from 200 addresses, never
   verified, while 2 legitimate requests a second in the same country convert at 90 %; codes
   sent to the prefix before the block, legitimate requests refused. From a cold start, and
   after an hour of legitimate traffic.
3. country: a slow attack over random prefixes of a whole country, under every prefix's
   limits, after a day of legitimate traffic: when the country signal fires, and what it does
   to the traffic of another country.

Prints the figures and writes them to bench/results/simulation-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import standin
import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from app import create_app, storage  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
ATTACKED = "+4915112345"  # the prefix scenario 2 pumps: its 1000 numbers
HIGH_LIMITS = {
    "OTP_LIMIT_IP_REQUEST": "1000000000/minute",
    "OTP_LIMIT_IP_VERIFY": "1000000000/minute",
    "OTP_LIMIT_PHONE_HOURLY": "1000000",
    "OTP_LIMIT_PHONE_DAILY": "1000000",
}


class Clock:
    """The simulated time the guard and the conversion counts read."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 86400 * 86400 + 6 * 3600)  # 06:00 UTC today

    def __call__(self) -> float:
        return self.now


@dataclass(order=True)
class _Event:
    at: float
    seq: int
    run: Callable[[], None] = field(compare=False)


class Timeline:
    """Events in simulated time order; the clock follows them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._events: list[_Event] = []
        self._seq = 0

    def at(self, moment: float, run: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(moment, self._seq, run))

    def every(
        self, rate: float, start: float, end: float, rng: random.Random, run: Callable[[], None]
    ) -> None:
        """`run` at random moments, `rate` a second on average (a Poisson process)."""
        moment = start + rng.expovariate(rate)
        while moment < end:
            self.at(moment, run)
            moment += rng.expovariate(rate)

    def run(self, until: float = float("inf"), stop: Callable[[], bool] = lambda: False) -> None:
        while self._events and self._events[0].at <= until and not stop():
            event = heapq.heappop(self._events)
            self.clock.now = max(self.clock.now, event.at)
            event.run()


class Service:
    """The service, in this process, with its guard and conversion counts on `clock`."""

    def __init__(
        self, routing: dict[str, Any], url: str, scratch: Path, base: str, clock: Clock
    ) -> None:
        for provider in routing["providers"].values():
            provider["settings"]["url"] = base + provider["settings"]["url"]
        path = scratch / "routing.yaml"
        path.write_text(yaml.safe_dump(routing))
        env = {
            "OTP_ENV": "development",
            "REDIS_URL": url,
            "OTP_DATA_DIR": str(scratch),
            "OTP_ROUTING_FILE": str(path),
            "OTP_TRUSTED_PROXIES": "1",
            # A fixed server secret: the numbers' hash tags, which seed the routing draws,
            # are then the same from run to run.
            "OTP_SECRET": hashlib.sha256(b"bench/simulate.py").hexdigest(),
            **HIGH_LIMITS,
        }
        self.app = create_app(env)
        logging.getLogger().setLevel(logging.WARNING)  # no line per request
        services = self.app.extensions["otp"]
        for part in (services.guard, services.conversion):
            if part is not None:
                part.clock = clock
        self.client = self.app.test_client()

    def request(self, phone: str, ip: str) -> tuple[int, dict[str, Any]]:
        answer = self.client.post(
            "/otp/request", json={"phone": phone}, headers={"X-Forwarded-For": ip}
        )
        return answer.status_code, answer.get_json()

    def verify(self, verification_id: str, code: str, ip: str) -> int:
        body = {"id": verification_id, "code": code}
        answer = self.client.post("/otp/verify", json=body, headers={"X-Forwarded-For": ip})
        return int(answer.status_code)


def http_provider(path: str, cost: float) -> dict[str, Any]:
    settings = {"url": f"/{path}", "secret": "${SIMULATOR_HTTP_SECRET}"}
    return {"type": "http", "channels": ["sms"], "settings": settings, "cost": {"default": cost}}


def valid(make: Callable[[], str]) -> str:
    """A number `make` draws that phonenumbers takes for a valid one."""
    while not phonenumbers.is_valid_number(phonenumbers.parse(number := make())):
        pass
    return number


def german(rng: random.Random) -> str:
    """A random German mobile number outside the attacked prefix."""
    while (
        number := valid(lambda: f"+4915{rng.choice('1279')}{rng.randrange(10**8):08d}")
    ).startswith(ATTACKED):
        pass
    return number


def french(rng: random.Random) -> str:
    return valid(lambda: f"+336{rng.randrange(10**8):08d}")


def address(rng: random.Random) -> str:
    return (
        f"{rng.randrange(11, 99)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    )


class Users:
    """Simulated people: they ask for a code and enter what arrives, with some probability,
    some seconds later."""

    def __init__(
        self, service: Service, phones: standin.Phones, timeline: Timeline, rng: random.Random
    ) -> None:
        self.service, self.phones, self.timeline, self.rng = service, phones, timeline, rng
        self.asked: Counter[str] = Counter()  # by status, and "approved"

    def ask(self, phone: str, enters: float = 1.0, label: str = "") -> tuple[int, dict[str, Any]]:
        ip = address(self.rng)
        status, body = self.service.request(phone, ip)
        self.asked[f"{label}{status}"] += 1
        code = self.phones.read(phone) if status == 202 else None
        if code and self.rng.random() < enters:
            later = self.timeline.clock.now + self.rng.uniform(10, 40)
            self.timeline.at(later, lambda: self._enter(body["id"], code, ip, label))
        return status, body

    def _enter(self, verification_id: str, code: str, ip: str, label: str) -> None:
        if self.service.verify(verification_id, code, ip) == 200:
            self.asked[f"{label}approved"] += 1


@dataclass
class World:
    url: str
    scratch: Path
    base: str
    phones: standin.Phones
    client: Any  # the Redis the service uses, flushed before each scenario

    @contextlib.contextmanager
    def service(self, routing: dict[str, Any]) -> Iterator[tuple[Service, Timeline, random.Random]]:
        self.client.flushdb()
        self.phones.inbox.clear()
        clock = Clock()
        yield (
            Service(routing, self.url, self.scratch, self.base, clock),
            Timeline(clock),
            random.Random(7),
        )


def conversion_scenario(world: World) -> dict[str, Any]:
    """Provider a drops from 95 % to 40 % delivery in DE; b stays at 90 %."""
    routing = {
        "providers": {"a": http_provider("a", 0.04), "b": http_provider("b", 0.05)},
        "scheduling": {
            "countries": {
                "DE": {
                    "strategy": "conversion",
                    "resources": [{"provider": "a"}, {"provider": "b"}],
                }
            }
        },
        "own_numbers": {"default": [{"provider": "a"}]},
    }
    delivery = {"a": 0.95, "b": 0.90}
    world.phones.delivery = dict(delivery)
    with world.service(routing) as (service, timeline, rng):
        users = Users(service, world.phones, timeline, rng)
        led: list[str] = []

        def one() -> None:
            status, body = users.ask(german(rng))
            led.append(body["route"]["provider"] if status == 202 else "refused")

        warmup, window, limit = 500, 50, 2000
        start = timeline.clock.now
        timeline.every(1.0, start, start + 4000, rng, one)
        timeline.run(stop=lambda: len(led) >= warmup)
        before = led.count("a") / warmup
        world.phones.delivery["a"] = 0.40
        dropped = len(led)

        def recovered() -> bool:
            after = led[dropped:]
            return len(after) >= limit or (
                len(after) >= window and after[-window:].count("a") / window < 0.2
            )

        timeline.run(stop=recovered)
        after = led[dropped:]
        until = len(after)
        timeline.run(stop=lambda: len(led) >= dropped + until + 300)
        steady = led[dropped + until :]
        lost = sum(delivery["b"] - world.phones.delivery[p] for p in after)
    return {
        "a_share_before_the_drop": round(before, 3),
        "verifications_until_a_below_20_percent": until,
        "window": window,
        "sent_through_a_meanwhile": after.count("a"),
        "conversion_lost_meanwhile": round(lost, 1),
        "conversion_lost_share": round(lost / until, 3),
        "a_share_in_the_300_after": round(steady.count("a") / len(steady), 3),
        "target": "under 300 verifications",
        "met": until < 300,
    }


def pumping_routing() -> dict[str, Any]:
    return {
        "providers": {"a": http_provider("a", 0.05)},
        "own_numbers": {"default": [{"provider": "a"}]},
        "fraud_guard": {"mode": "enforce"},
    }


def pumping_scenario(world: World, warm: float) -> dict[str, Any]:
    """20 requests a second to random numbers of one prefix from 200 addresses, never
    verified, among 2 legitimate requests a second converting at 90 %; the attack starts
    after `warm` seconds of legitimate traffic alone."""
    world.phones.delivery = {"a": 1.0}
    with world.service(pumping_routing()) as (service, timeline, rng):
        users = Users(service, world.phones, timeline, rng)
        bots = [address(rng) for _ in range(200)]
        start, attack, duration = timeline.clock.now, timeline.clock.now + warm, 120.0
        block: dict[str, float] = {}  # codes sent before it, seconds from the attack's start
        outcome: Counter[str] = Counter()

        def pump() -> None:
            number = f"{ATTACKED}{rng.randrange(1000):03d}"
            status, body = service.request(number, rng.choice(bots))
            outcome[answer_name(status, body)] += 1
            if status == 403 and not block:
                block.update(sent=outcome["202"], after=timeline.clock.now - attack)

        timeline.every(2.0, start, attack + duration, rng, lambda: users.ask(german(rng), 0.9))
        timeline.every(20.0, attack, attack + duration, rng, pump)
        timeline.run()
        legit = users.asked
    refused = sum(n for k, n in legit.items() if k not in ("202", "approved"))
    return {
        "legitimate_traffic_before_the_attack_s": warm,
        "attack_requests": sum(outcome.values()),
        "codes_sent_to_the_prefix_before_the_block": block.get("sent"),
        "codes_sent_to_the_prefix_in_all": outcome["202"],
        "seconds_from_attack_to_block": round(block["after"], 2) if block else None,
        "attack_answers": dict(outcome),
        "legitimate_requests": sum(n for k, n in legit.items() if k != "approved"),
        "legitimate_refused": refused,
        "legitimate_approved": legit["approved"],
        "targets": "at most 25 codes to the prefix; 0 legitimate refused",
        "met": bool(block) and block["sent"] <= 25 and refused == 0,
    }


def answer_name(status: int, body: dict[str, Any]) -> str:
    """202, or the status and the refusal's reason: "403 prefix", "429 resend_cooldown"."""
    reason = body.get("error", {}).get("details", {}).get("reason", "") if status != 202 else ""
    return f"{status} {reason}".strip()


def country_scenario(world: World) -> dict[str, Any]:
    """A slow attack over random prefixes of DE after a day of legitimate DE and FR traffic."""
    world.phones.delivery = {"a": 1.0}
    day, legit_de, legit_fr, pace = 86400.0, 0.02, 0.02, 0.01
    with world.service(pumping_routing()) as (service, timeline, rng):
        de, fr = (Users(service, world.phones, timeline, rng) for _ in range(2))
        start = timeline.clock.now
        attack, end = start + day, start + 2 * day
        blocked: dict[str, float] = {}  # when, and the attack's codes sent before
        outcome: Counter[str] = Counter()

        def slow() -> None:
            status, body = service.request(german(rng), address(rng))
            outcome[answer_name(status, body)] += 1
            if status == 403 and not blocked:
                blocked.update(at=timeline.clock.now, sent=outcome["202"])

        def de_user() -> None:
            phase = "after block " if blocked else "before block "
            de.ask(german(rng), 0.9, phase if timeline.clock.now >= attack else "first day ")

        timeline.every(legit_de, start, end, rng, de_user)
        timeline.every(legit_fr, start, end, rng, lambda: fr.ask(french(rng), 0.9))
        timeline.every(pace, attack, end, rng, slow)
        timeline.run(stop=lambda: bool(blocked) and timeline.clock.now > blocked["at"] + 1800)
        blocks = service.app.extensions["otp"].guard.blocks()
    hours = round((blocked["at"] - attack) / 3600, 2) if blocked else None
    return {
        "legitimate_day_before": {"DE per second": legit_de, "FR per second": legit_fr},
        "attack_per_second": pace,
        "hours_from_attack_to_country_block": hours,
        "attack_codes_sent_before_the_block": blocked.get("sent"),
        "attack_answers": dict(outcome),
        "blocks_in_force": [f"{b.scope} {b.value}: {b.window}" for b in blocks],
        "prefix_blocks": sum(b.scope == "prefix" for b in blocks),
        "de_legitimate": dict(de.asked),
        "fr_legitimate": dict(fr.asked),
        "fr_refused": sum(n for k, n in fr.asked.items() if k not in ("202", "approved")),
        "targets": "the country signal fires, no prefix signal; France untouched",
        "met": bool(blocked) and all(k in ("202", "approved") for k in fr.asked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help=f"default {DEFAULT_REDIS}")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    os.environ["SIMULATOR_HTTP_SECRET"] = standin.SECRET
    started = time.monotonic()
    phones = standin.Phones(seed=11)
    server, base = standin.serve(phones)
    with (
        tempfile.TemporaryDirectory(prefix="otp-sim-") as scratch,
        open(Path(scratch) / "service.log", "w") as log,
        contextlib.redirect_stderr(log),
    ):
        client = storage.connect(args.redis_url)
        world = World(args.redis_url, Path(scratch), base, phones, client)
        report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
        scenarios: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("1 conversion", lambda: conversion_scenario(world)),
            ("2 pumping, cold start", lambda: pumping_scenario(world, 0.0)),
            (
                "2 pumping, after an hour of legitimate traffic",
                lambda: pumping_scenario(world, 3600.0),
            ),
            ("3 country", lambda: country_scenario(world)),
        ]
        for name, scenario in scenarios:
            began = time.monotonic()
            report[name] = {**scenario(), "seconds": round(time.monotonic() - began, 1)}
            print(f"{name}: {json.dumps(report[name], indent=2)}", file=sys.__stdout__, flush=True)
        client.flushdb()
    server.shutdown()
    report["seconds"] = round(time.monotonic() - started, 1)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"simulation-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"all scenarios: {report['seconds']} s; written to {path}")


if __name__ == "__main__":
    main()
