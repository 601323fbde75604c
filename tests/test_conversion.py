"""Conversion-driven ordering: decayed counts in Redis, Thompson sampling weighed against
cost, a minimum share for every healthy resource, and the reasons that say so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
import yaml
from flask import Flask
from redis.cluster import RedisCluster

from app import routing_file
from app.batch import Batch
from app.delivery.config import RoutingConfig
from app.delivery.conversion import Conversion, Counts
from app.delivery.health import CLOSED, OPEN, Availability
from app.delivery.providers.base import ProviderContext
from app.delivery.routing import Router

from .conftest import TRUSTED
from .guard_helpers import QUIET_GUARD, Clock, ask, ask_and_verify, merged, round_trips, spread

HALF_LIFE = 3600


def document(cost_b: float = 0.05, **conversion: Any) -> dict[str, Any]:
    """DE ordered by conversion between a, b and c (c only when asked for)."""
    return {
        "providers": {
            "a": {"type": "console", "channels": ["sms"], "cost": {"DE": 0.05}},
            "b": {"type": "console", "channels": ["sms"], "cost": {"DE": cost_b}},
            "c": {"type": "console", "channels": ["sms"], "cost": {"DE": 0.05}},
        },
        "scheduling": {
            "countries": {
                "DE": {
                    "strategy": "conversion",
                    "resources": [{"provider": "a"}, {"provider": "b"}],
                },
                "FR": {"resources": [{"provider": "a"}, {"provider": "b"}]},
            }
        },
        "own_numbers": {"default": [{"provider": "c"}]},
        "conversion": {"half_life": HALF_LIFE, **conversion},
    }


def config(raw: dict[str, Any]) -> RoutingConfig:
    return routing_file.parse(raw, "routing.yaml", ProviderContext(), {}).routing


def router(
    routing: RoutingConfig, counts: dict[str, Counts], down: frozenset[str] = frozenset()
) -> Router:
    def health(country: str, providers: list[str]) -> dict[str, Availability]:
        return {name: Availability(OPEN if name in down else CLOSED, 0, None) for name in providers}

    return Router(routing, health, lambda country, channel: counts)


def leads(planner: Router, draws: int = 2000) -> dict[str, float]:
    """The share of plans each provider leads, over `draws` verifications."""
    firsts = [
        planner.plan("DE", "sms", f"verification-{n}").steps[0].provider for n in range(draws)
    ]
    return {name: firsts.count(name) / draws for name in sorted(set(firsts))}


def test_a_clearly_worse_resource_loses_its_share_but_keeps_its_minimum() -> None:
    counts = {"a": Counts(200, 80), "b": Counts(200, 180)}
    shares = leads(router(config(document()), counts))
    # only by the minimum share draw: 2 x 5 % of the plans, half of them drawn to a
    assert 0.035 < shares["a"] < 0.07
    assert shares["b"] > 0.93


def test_every_healthy_resource_leads_at_least_its_minimum_share() -> None:
    raw = document(min_share=0.1)
    raw["scheduling"]["countries"]["DE"]["resources"].append({"provider": "c"})
    counts = {"a": Counts(500, 0), "b": Counts(500, 450), "c": Counts(500, 5)}
    shares = leads(router(config(raw), counts))
    assert min(shares["a"], shares["c"]) > 0.085
    down = leads(router(config(raw), counts, down=frozenset({"b"})))
    assert set(down) == {"a", "c"}  # an open circuit takes no part in the draw
    assert down["c"] > 0.7


def test_cost_weighs_against_conversion_by_the_setting() -> None:
    counts = {"a": Counts(300, 270), "b": Counts(300, 270)}
    even = leads(router(config(document(cost_b=0.05)), counts))
    assert 0.4 < even["a"] < 0.6
    pricey = leads(router(config(document(cost_b=0.10, cost_weight=0.05)), counts))
    assert pricey["a"] > 0.9  # b pays twice as much for no better conversion
    worth = {"a": Counts(300, 240), "b": Counts(300, 285)}  # 15 points better: worth it
    assert leads(router(config(document(cost_b=0.10, cost_weight=0.05)), worth))["b"] > 0.9


def test_the_same_verification_draws_the_same_order() -> None:
    planner = router(config(document()), {"a": Counts(10, 6), "b": Counts(10, 7)})
    orders = {tuple(s.provider for s in planner.plan("DE", "sms", "one").steps) for _ in range(20)}
    assert len(orders) == 1


def count(conversion: Conversion, provider: str, sent: int, approved: int) -> None:
    batch = Batch(conversion.client)
    for n in range(sent):
        conversion.sent(batch, provider, "DE", "sms")
        if n < approved:
            conversion.approved(batch, provider, "DE", "sms")
    batch.execute()


@pytest.mark.parametrize(("half_life", "a_wins"), [(HALF_LIFE, True), (1e9, False)])
def test_decay_lets_a_recovered_resource_win_again(
    redis_client: redis.Redis, half_life: float, a_wins: bool
) -> None:
    routing = config(document(half_life=half_life, cache_seconds=0))
    clock = Clock()
    conversion = Conversion(redis_client, routing, clock)
    count(conversion, "a", 100, 10)  # a was broken
    count(conversion, "b", 100, 85)
    clock.advance(5 * HALF_LIFE)  # then recovered: what the minimum share sent it converted
    count(conversion, "a", 30, 29)
    count(conversion, "b", 30, 25)
    seen = conversion.counts("DE", "sms")
    assert seen["a"].sent == pytest.approx(30 + 100 * 2 ** (-5 * HALF_LIFE / half_life))
    health = router(routing, {}).health
    shares = leads(Router(routing, health, conversion.counts), 600)
    assert (shares.get("a", 0) > 0.6) == a_wins


def test_a_busy_route_keeps_only_its_recent_sends(redis_client: redis.Redis) -> None:
    routing = config(document(max_sent=100, cache_seconds=0))
    conversion = Conversion(redis_client, routing, Clock())
    count(conversion, "a", 1000, 950)  # 95 % for long
    count(conversion, "a", 100, 40)  # then 40 %
    seen = conversion.counts("DE", "sms")["a"]
    assert seen.sent == pytest.approx(100)
    assert seen.estimate < 0.65  # a day of 95 % would have kept it near 0.9


@pytest.fixture
def converting(routed_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def make(guard: dict[str, Any] | None = None) -> Flask:
        raw = document()
        if guard is not None:
            raw["fraud_guard"] = merged(QUIET_GUARD, guard)
        app = routed_app(yaml.safe_dump(raw), {})
        services = app.extensions["otp"]
        for part in (services.conversion, services.guard):
            if part is not None:
                part.clock = Clock()
        return app

    return make


def test_sends_and_approvals_are_counted_and_the_reasons_show_them(
    converting: Callable[..., Flask],
) -> None:
    app = converting()
    client = app.test_client()
    ask_and_verify(client, spread(1))
    counts = app.extensions["otp"].conversion
    counts._cache.clear()
    [(provider, seen)] = counts.counts("DE", "sms").items()
    assert (seen.sent, seen.approved) == (1, 1)
    answer = ask(client, spread(2))
    route = client.get(f"/otp/{answer.get_json()['id']}", headers=TRUSTED).get_json()["route"]
    reasons = {step["provider"]: step["reason"] for step in route["steps"]}
    assert "conversion 0.667 (1.0 approved of 1.0 sent)" in reasons[provider]
    assert "scheduling resource, priority 1, conversion 0.500 (0.0 approved" in str(reasons)
    printed = app.test_cli_runner().invoke(args=["otp", "route", spread(3)]).output
    assert "conversion 0.667 (1.0 approved of 1.0 sent), draw" in printed
    assert "weight" not in printed


def test_other_countries_are_neither_counted_nor_reordered(
    converting: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    app = converting()
    client = app.test_client()
    ask_and_verify(client, "+33612345678")
    assert redis_client.keys("otp:*:conv") == []
    printed = app.test_cli_runner().invoke(args=["otp", "route", "+33612345679"]).output
    assert "priority 1, weight 1" in printed


def test_suspect_sends_are_left_out(converting: Callable[..., Flask]) -> None:
    app = converting({"mode": "monitor", "prefix": {"hour": {"floor": 0}}})
    client = app.test_client()
    for n in range(3):
        assert ask(client, f"+4915112345{n:03d}").status_code == 202  # each one suspect
    counts = app.extensions["otp"].conversion
    assert counts.counts("DE", "sms") == {}


def test_counting_costs_no_round_trip_on_a_request(converting: Callable[..., Flask]) -> None:
    app = converting()
    if isinstance(app.extensions["otp"].redis, RedisCluster):
        pytest.skip("a Cluster splits pipelines by node and runs each script on its own")
    client = app.test_client()
    ask(client, spread(100))  # the counts read once; then cached
    with round_trips() as sent:
        ask(client, spread(101))
        converting_request = sent()
    plain = converting().test_client()
    ask(plain, "+33612345000")
    with round_trips() as sent:
        ask(plain, "+33612345001")
        assert converting_request == sent()
