"""Provider health shared by every worker: circuit breakers and per-minute quotas in Redis.

A breaker exists per provider and per provider and country (a provider often fails for one
country only). It opens after a run of failures or a failure ratio over a window, stays open
for a cool-down, then lets one probe through: the probe's outcome closes or reopens it.

A quota is taken before each send (one atomic script on the provider's counter), so any
number of concurrent senders never goes over it; a send the provider refused gives it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app import keys, luascripts
from app.batch import Batch

from .providers.base import RECIPIENT_FAILURES

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
ROUTE_FAILURE = "route"
# The per-country breakers that recorded an outcome lately, so that /metrics can list them
# without scanning the key space; a day's traffic keeps a country in it.
SCOPES_TTL = 86400
QUOTA_TTL = 120  # seconds a minute's counter lives: past any send it was taken for


@dataclass(frozen=True)
class BreakerSettings:
    failures: int = 5
    ratio: float = 0.5
    min_calls: int = 10
    window: int = 60
    cooldown: int = 30


def _scope(provider: str, country: str | None = None) -> str:
    return provider if country is None else f"{provider}|{country}"


def breaker_key(provider: str, country: str | None = None) -> str:
    return keys.key(_scope(provider, country), "cb")


def quota_key(provider: str, minute: int) -> str:
    return keys.key(provider, "quota", minute)


def scopes_key() -> str:
    return keys.key("cb-scopes", "scopes")


def _state(open_until: int, now: float) -> str:
    if open_until == 0:
        return CLOSED
    return OPEN if now < open_until else HALF_OPEN


@dataclass(frozen=True)
class Availability:
    """What the scheduler needs to know of one provider for one country."""

    state: str  # the worse of the provider-wide and the per-country breaker
    used: int  # messages sent this minute
    quota: int | None

    def problem(self) -> str | None:
        """Why the provider cannot take a message now, or None."""
        if self.state == OPEN:
            return "circuit open"
        if self.quota is not None and self.used >= self.quota:
            return f"quota used up ({self.used}/{self.quota} this minute)"
        return None


class Health:
    def __init__(
        self,
        client: Any,
        settings: BreakerSettings,
        quotas: dict[str, int | None],
        cache_seconds: float,
    ) -> None:
        self.client = client
        self.settings = settings
        self.quotas = quotas
        self.cache_seconds = cache_seconds
        self._breaker = luascripts.register(client, __package__, "breaker")
        self._quota = luascripts.register(client, __package__, "quota")
        self._cache: dict[str, tuple[float, dict[str, Availability]]] = {}

    def snapshot(self, country: str, providers: list[str]) -> dict[str, Availability]:
        """Availability of `providers` for `country`: one round trip, cached briefly per worker."""
        now = time.time()
        cached = self._cache.get(country)
        if cached and now - cached[0] < self.cache_seconds and set(providers) <= cached[1].keys():
            return cached[1]
        minute = int(now // 60)
        pipe = self.client.pipeline(transaction=False)
        for name in providers:
            pipe.hget(breaker_key(name), "o")
            pipe.hget(breaker_key(name, country), "o")
            pipe.get(quota_key(name, minute))
        replies = iter(pipe.execute())
        result = {}
        for name in providers:
            wide, local, used = (int(next(replies) or 0) for _ in range(3))
            states = {_state(wide, now), _state(local, now)}
            state = OPEN if OPEN in states else HALF_OPEN if HALF_OPEN in states else CLOSED
            result[name] = Availability(state, used, self.quotas.get(name))
        self._cache[country] = (now, result)
        return result

    def claim_probe(self, provider: str, country: str) -> bool:
        """Whether this caller may send the one probe of a half-open breaker."""
        key = breaker_key(provider, country) + ":probe"
        return bool(self.client.set(key, "1", nx=True, ex=self.settings.cooldown))

    def reserve(self, provider: str, at: float) -> bool:
        """Take one message of the provider's quota for the minute of `at`, before sending it;
        False when that minute's quota is used up. Free (no round trip) without a quota."""
        quota = self.quotas.get(provider)
        if quota is None:
            return True
        key = quota_key(provider, int(at // 60))
        return bool(self._quota(keys=[key], args=[1, quota, QUOTA_TTL]))

    def give_back(self, provider: str, at: float) -> None:
        """Return what `reserve(provider, at)` took, for a message the provider did not take."""
        if self.quotas.get(provider) is not None:
            self._quota(keys=[quota_key(provider, int(at // 60))], args=[-1, 0, QUOTA_TTL])

    def record(self, batch: Batch, provider: str, country: str, failure: str | None) -> None:
        """Queue one outcome (None for success, or a failure class) on the breakers. A route
        failure (this provider cannot reach this country) counts against the per-country
        breaker only; a transient one against both; a failure about the recipient (refused,
        throttled) against neither: the provider answered."""
        if failure in RECIPIENT_FAILURES:
            failure = None
        s = self.settings
        now = int(time.time())
        args = ["0" if failure else "1", now, s.failures, s.ratio, s.min_calls, s.window]
        args.append(s.cooldown)
        breakers = [breaker_key(provider, country)]
        if failure != ROUTE_FAILURE:
            breakers.append(breaker_key(provider))
        for key in breakers:
            batch.script(self._breaker, [key], args)
        batch.pipe.sadd(scopes_key(), _scope(provider, country))
        batch.pipe.expire(scopes_key(), SCOPES_TTL)

    def record_now(self, provider: str, country: str, failure: str | None) -> None:
        """Record an outcome learnt outside a send (a delivery receipt)."""
        batch = Batch(self.client)
        self.record(batch, provider, country, failure)
        batch.execute()

    def states(self, provider: str, country: str | None = None) -> str:
        now = time.time()
        return _state(int(self.client.hget(breaker_key(provider, country), "o") or 0), now)

    def circuits(self, providers: list[str]) -> list[tuple[str, str, str]]:
        """(provider, country, state) of each provider's own breaker (country "") and of the
        per-country breakers of `providers` seen lately: two round trips."""
        scopes = [(name, "") for name in providers]
        for member in sorted(self.client.smembers(scopes_key())):
            name, _, country = member.decode().partition("|")
            if name in providers:
                scopes.append((name, country))
        pipe = self.client.pipeline(transaction=False)
        for name, country in scopes:
            pipe.hget(breaker_key(name, country or None), "o")
        replies, now = pipe.execute(), time.time()
        return [(p, c, _state(int(o or 0), now)) for (p, c), o in zip(scopes, replies, strict=True)]
