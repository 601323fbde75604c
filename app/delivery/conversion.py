"""Conversion per provider, country and channel: decayed counts of codes sent and approved.

Kept in Redis so that every worker and machine learns from every send. A send is counted in
the batch dispatch already runs, an approval in the one batch that follows it; the scheduler
reads a country's counts once per `cache_seconds` per worker (conversion-driven ordering:
bandit.py). An approval is attributed to the provider of the verification's last accepted
send. Only countries with `strategy: conversion` are counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import keys, luascripts
from app.batch import Batch

from .config import ConversionSettings, RoutingConfig

# Half-lives a country's hash outlives its last count: by then its counts weigh nothing.
HALF_LIVES_KEPT = 20


def counts_key(country: str) -> str:
    """A country's counts, every provider and channel in one hash (one slot per country)."""
    return keys.key(country, "conv")


@dataclass(frozen=True)
class Counts:
    """Decayed counts of one provider in one country on one channel."""

    sent: float = 0.0
    approved: float = 0.0

    @property
    def estimate(self) -> float:
        """The posterior mean of the conversion under a uniform prior."""
        return (self.approved + 1) / (max(self.sent, self.approved) + 2)

    def decayed(self, seconds: float, half_life: float) -> Counts:
        kept = 2 ** (-max(0.0, seconds) / half_life)
        return Counts(self.sent * kept, self.approved * kept)


# The counts of every provider of a country on a channel, by provider name.
CountsView = Callable[[str, str], dict[str, Counts]]


class Conversion:
    def __init__(
        self, client: Any, routing: RoutingConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.settings: ConversionSettings = routing.conversion
        self.tracked = frozenset(
            country
            for country, scheduling in routing.scheduling.items()
            if scheduling.strategy == "conversion"
        )
        self.clock = clock
        self._count = luascripts.register(client, __package__, "conversion")
        self._cache: dict[str, tuple[float, dict[str, tuple[Counts, float]]]] = {}

    def tracks(self, country: str) -> bool:
        return country in self.tracked

    def sent(self, batch: Batch, provider: str, country: str, channel: str) -> None:
        """Queue one accepted send on `batch`."""
        self._queue(batch, provider, country, channel, "s")

    def approved(self, batch: Batch, provider: str, country: str, channel: str) -> None:
        """Queue one approval of a code `provider` delivered on `batch`."""
        self._queue(batch, provider, country, channel, "a")

    def _queue(self, batch: Batch, provider: str, country: str, channel: str, what: str) -> None:
        if country not in self.tracked:
            return
        keep = int(self.settings.half_life * HALF_LIVES_KEPT)
        settings = self.settings
        args = [f"{provider}|{channel}", self.clock(), settings.half_life, what, keep]
        args.append(settings.max_sent)
        batch.script(self._count, [counts_key(country)], args)

    def counts(self, country: str, channel: str) -> dict[str, Counts]:
        """Every provider's counts in `country` on `channel`, decayed to now; one read per
        `cache_seconds` per worker."""
        now = self.clock()
        cached = self._cache.get(country)
        if cached is None or now - cached[0] >= self.settings.cache_seconds:
            cached = (now, self._read(country))
            self._cache[country] = cached
        found = {}
        for field, (counts, at) in cached[1].items():
            provider, _, on = field.rpartition("|")
            if on == channel:
                found[provider] = counts.decayed(now - at, self.settings.half_life)
        return found

    def _read(self, country: str) -> dict[str, tuple[Counts, float]]:
        stored = self.client.hgetall(counts_key(country))
        read = {}
        for field, value in stored.items():
            sent, approved, at = (float(part) for part in value.decode().split())
            read[field.decode()] = (Counts(sent, approved), at)
        return read
