"""The scheduler: a destination country and channel -> an ordered route plan.

Implements the OTP delivery scheduling rules (README, "Routing"): blocked countries are
refused; a country that uses scheduling goes through its available scheduling resources
by priority, then weight and cost; with none available it falls back to the tenant's own
numbers when `use_own_numbers` is on and fails with `no_route` when it is off; a country that
does not use scheduling goes through its own numbers. Nothing here sends or writes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from itertools import groupby

from app.errors import ApiError

from . import bandit
from .config import OwnNumber, Resource, RoutingConfig
from .conversion import CountsView
from .health import Availability
from .phone import takes

# E-mail addresses and WeChat openids have no country: they take the default own senders.
EMAIL_COUNTRY = ""


@dataclass(frozen=True)
class Step:
    provider: str
    channel: str
    own_numbers: bool
    sender: str | None
    cost: float | None
    reason: str


@dataclass(frozen=True)
class Skip:
    provider: str
    channel: str
    reason: str


@dataclass(frozen=True)
class Plan:
    country: str
    channel: str
    scheduled: bool
    steps: tuple[Step, ...]
    skipped: tuple[Skip, ...]

    def avoiding(self, provider: str | None) -> Plan:
        """Rule 8: a resend tries the provider that delivered without approval last of all."""
        if provider is None:
            return self
        steps = [s for s in self.steps if s.provider != provider]
        steps += [s for s in self.steps if s.provider == provider]
        return replace(self, steps=tuple(steps))

    def explain(self) -> dict[str, object]:
        return {
            "country": self.country,
            "channel": self.channel,
            "scheduled": self.scheduled,
            "steps": [asdict(step) for step in self.steps],
            "skipped": [asdict(skip) for skip in self.skipped],
        }


# Availability of each named provider for one country.
HealthView = Callable[[str, list[str]], dict[str, Availability]]


class Router:
    def __init__(
        self, config: RoutingConfig, health: HealthView, conversion: CountsView | None = None
    ) -> None:
        self.config = config
        self.health = health
        self.conversion = conversion  # the counts of countries with `strategy: conversion`

    @property
    def _unscheduled(self) -> str:
        """Why a country goes through its own numbers (rule 5)."""
        if not self.config.scheduling_enabled:
            return "scheduling is switched off (scheduling.enabled: false)"
        return "country does not use scheduling"

    def check_country(self, country: str) -> None:
        """Rule 2: a blocked country (or one outside the allow-list) is refused."""
        allowed = self.config.allowed
        if country in self.config.blocked or (allowed is not None and country not in allowed):
            raise ApiError(
                "country_not_allowed",
                f"Sending to {country} is not allowed.",
                {"country": country},
            )

    def plan(self, country: str, channel: str, seed: str, kind: str | None = None) -> Plan:
        """The ordered steps for one send; raises ApiError no_route when there are none.
        `seed` keeps the weighted draw the same for every send of one verification. `kind`
        is the destination number's (phone.Destination.kind), None for no number: a fallback
        channel the number cannot receive (SMS to a fixed line) is left out."""
        if channel not in self.config.channels:
            raise ApiError("unsupported_channel", f"The {channel} channel is not enabled.")
        if country != EMAIL_COUNTRY:
            self.check_country(country)
        steps, skipped, scheduled, why = self._steps(country, channel, seed)
        fallback = self.config.fallbacks.get(channel)
        # Rule 7, only to a destination that can receive the fallback channel: no text to a
        # fixed line, no phone channel for an address without a country (e-mail, openid).
        if (
            fallback is not None
            and fallback in self.config.channels
            and takes(kind, fallback)
            and country != EMAIL_COUNTRY
        ):
            more, more_skipped, _, _ = self._steps(country, fallback, seed)
            steps += more
            skipped += more_skipped
        if not steps:
            raise ApiError(
                "no_route",
                f"No provider can deliver {channel} to {country or 'this destination'} now.",
                {"country": country, "channel": channel, "reason": why},
            )
        return Plan(country, channel, scheduled, tuple(steps), tuple(skipped))

    def _steps(
        self, country: str, channel: str, seed: str
    ) -> tuple[list[Step], list[Skip], bool, str]:
        enabled = self.config.scheduling_enabled  # the master switch: off, rule 5 everywhere
        scheduling = self.config.scheduling.get(country) if enabled else None
        if scheduling is None:  # rule 5
            steps, skipped = self._own(country, channel, self._unscheduled)
            return steps, skipped, False, "no own numbers available for this country"
        resources = [r for r in scheduling.resources if _serves(self.config, r, channel)]
        steps, skipped = self._scheduled(country, channel, resources, seed)
        if steps:  # rule 3
            return steps, skipped, True, ""
        if not scheduling.use_own_numbers:  # rule 4, switch off
            return [], skipped, True, "no scheduling resource available and use_own_numbers is off"
        own, own_skipped = self._own(
            country,
            channel,
            "no scheduling resource available: own numbers (international rates may apply)",
        )
        return own, skipped + own_skipped, True, "no scheduling resource or own number available"

    def _scheduled(
        self, country: str, channel: str, resources: list[Resource], seed: str
    ) -> tuple[list[Step], list[Skip]]:
        health = self.health(country, [r.provider for r in resources])
        steps, skipped = [], []
        for resource, why in self._ranked(resources, country, channel, seed, health):
            problem = health[resource.provider].problem()
            if problem:
                skipped.append(Skip(resource.provider, channel, problem))
                continue
            reason = f"scheduling resource, priority {resource.priority}, {why}"
            cost = self.config.providers[resource.provider].cost_for(country)
            steps.append(Step(resource.provider, channel, False, None, cost, reason))
        return steps, skipped

    def _ranked(
        self,
        resources: list[Resource],
        country: str,
        channel: str,
        seed: str,
        health: dict[str, Availability],
    ) -> list[tuple[Resource, str]]:
        """The resources in plan order, each with the words of its place."""
        draw = f"{seed}|{country}|{channel}"
        if self.conversion is None or self.config.scheduling[country].strategy != "conversion":
            ordered = _order(resources, self.config, country, draw)
            return [(resource, f"weight {resource.weight}") for resource in ordered]
        rng, counts = _rng(draw), self.conversion(country, channel)
        healthy = {name for name, state in health.items() if state.problem() is None}
        return [
            ranked
            for tier in _tiers(resources)
            for ranked in bandit.order(tier, self.config, country, counts, healthy, rng)
        ]

    def _own(self, country: str, channel: str, reason: str) -> tuple[list[Step], list[Skip]]:
        own = self.config.own_numbers
        numbers: tuple[OwnNumber, ...] = own.get(country) or own.get("default", ())
        numbers = tuple(n for n in numbers if channel in self.config.providers[n.provider].channels)
        health = self.health(country, [n.provider for n in numbers])
        steps, skipped = [], []
        for number in numbers:
            problem = health[number.provider].problem()
            if problem:
                skipped.append(Skip(number.provider, channel, problem))
                continue
            cost = self.config.providers[number.provider].cost_for(country)
            steps.append(Step(number.provider, channel, True, number.sender, cost, reason))
        return steps, skipped


def _serves(config: RoutingConfig, resource: Resource, channel: str) -> bool:
    channels = resource.channels or config.providers[resource.provider].channels
    return channel in channels


def _order(
    resources: list[Resource], config: RoutingConfig, country: str, seed: str
) -> list[Resource]:
    """By priority; within a priority a weighted draw seeded by the verification, so the same
    verification draws the same order. Where the weights in a priority are all equal, the
    cheaper resource comes first instead (a draw among equals would ignore cost)."""
    rng = _rng(seed)
    ordered: list[Resource] = []
    for tier in _tiers(resources):
        if len({r.weight for r in tier}) == 1:
            cost = config.providers
            ordered += sorted(
                tier, key=lambda r: (cost[r.provider].cost_for(country) or 0.0, r.provider)
            )
            continue
        ordered += sorted(tier, key=lambda r: rng.random() ** (1.0 / r.weight), reverse=True)
    return ordered


def _tiers(resources: list[Resource]) -> list[list[Resource]]:
    """The resources grouped by priority, lowest number first."""
    by_priority = groupby(sorted(resources, key=lambda r: r.priority), key=lambda r: r.priority)
    return [list(tier) for _, tier in by_priority]


def _rng(seed: str) -> random.Random:
    """The random stream of one verification's draws."""
    return random.Random(hashlib.sha256(seed.encode()).digest())
