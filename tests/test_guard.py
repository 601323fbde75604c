"""The fraud guard: each signal, adaptive limits, escalation and expiry, unblocking, the safe
list, monitor mode, the answers, and what it costs in Redis round trips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from redis.cluster import RedisCluster

from app.api import twilio_shapes
from app.errors import ApiError
from app.guard import keys

from .conftest import TRUSTED
from .guard_helpers import (
    QUIET_GUARD,
    Clock,
    ask,
    ask_and_verify,
    in_prefix,
    merged,
    round_trips,
    routing,
    spread,
    with_clock,
)

SECRET = "guard-hook-secret-0123456789"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guarded(routed_app: Callable[..., Flask], clock: Clock) -> Callable[..., Flask]:
    """An app whose guard has QUIET_GUARD's limits with `changes` merged in, on `clock`."""

    def make(changes: dict[str, Any] | None = None, **more: Any) -> Flask:
        text = routing(merged(QUIET_GUARD, changes or {}), **more)
        return with_clock(routed_app(text, {"HOOK_SECRET": SECRET}), clock)

    return make


def test_a_prefix_past_its_floor_is_refused_and_nothing_is_stored(
    guarded: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    client = guarded({"prefix": {"hour": {"floor": 3}}}).test_client()
    assert [ask(client, in_prefix(n)).status_code for n in range(3)] == [202] * 3

    def stored() -> set[bytes]:  # everything but the guard's own counters and blocks
        return {key for key in redis_client.keys("otp:{*") if b"}:guard:" not in key}

    keys_before = stored()
    refused = ask(client, in_prefix(3))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "fraud_blocked"
    assert refused.get_json()["error"]["details"] == {"reason": "prefix"}
    assert int(refused.headers["Retry-After"]) == 100
    assert stored() == keys_before  # no verification, no quota
    assert not client.get("/dev/outbox", query_string={"to": in_prefix(3)}).get_json()["messages"]
    assert ask(client, spread(1)).status_code == 202  # another prefix of the country


def test_the_prefix_limit_grows_with_the_countrys_verified_sends(
    guarded: Callable[..., Flask],
) -> None:
    client = guarded({"prefix": {"hour": {"floor": 2, "factor": 0.5}}}).test_client()
    for n in range(8):
        ask_and_verify(client, spread(n))
    # max(2, 0.5 x 8 verified in the country this hour) = 4 unverified sends
    assert [ask(client, in_prefix(n)).status_code for n in range(5)] == [202] * 4 + [403]


def test_a_prefix_that_converts_is_never_suspect(guarded: Callable[..., Flask]) -> None:
    client = guarded({"prefix": {"hour": {"floor": 2}, "own": 1}}).test_client()
    for n in range(3):
        ask_and_verify(client, in_prefix(n))
    # max(2, 1 x its own 3 verified) = 3 unverified sends
    statuses = [ask(client, in_prefix(n)).status_code for n in range(10, 14)]
    assert statuses == [202] * 3 + [403]


def test_the_country_signal_weighs_today_against_the_best_recent_day(
    guarded: Callable[..., Flask], clock: Clock
) -> None:
    client = guarded({"country": {"day": {"floor": 3, "factor": 0.5}}}).test_client()
    for n in range(12):
        ask_and_verify(client, spread(n))
    clock.advance(86400)  # tomorrow: limit max(3, 0.5 x yesterday's 12 verified) = 6
    statuses = [ask(client, spread(100 + n)).status_code for n in range(7)]
    assert statuses == [202] * 6 + [403]
    refused = ask(client, spread(200))
    assert refused.get_json()["error"]["details"]["reason"] == "country"
    assert ask(client, "+33612345678").status_code == 202  # France is not touched


def test_an_address_asking_for_many_countries_it_never_verifies_is_refused(
    guarded: Callable[..., Flask],
) -> None:
    client = guarded({"ip": {"countries": 2}}).test_client()
    ask_and_verify(client, "+34612345678", ip="203.0.113.9")  # a verified country is free
    assert ask(client, in_prefix(1), ip="203.0.113.9").status_code == 202
    assert ask(client, "+33612345678", ip="203.0.113.9").status_code == 202
    refused = ask(client, "+447400123456", ip="203.0.113.9")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["details"] == {"reason": "ip"}
    assert ask(client, "+447400123456", ip="203.0.113.10").status_code == 202


def test_an_ipv6_client_is_counted_by_its_64(guarded: Callable[..., Flask]) -> None:
    client = guarded({"ip": {"hour": {"floor": 2}}}).test_client()
    assert ask(client, spread(1), ip="2001:db8:1:2::1").status_code == 202
    assert ask(client, spread(2), ip="2001:db8:1:2::ffff").status_code == 202
    assert ask(client, spread(3), ip="2001:db8:1:2:abcd::9").status_code == 403
    assert ask(client, spread(4), ip="2001:db8:1:3::1").status_code == 202


def test_blocks_escalate_when_repeated_soon_and_expire_by_themselves(
    guarded: Callable[..., Flask], clock: Clock
) -> None:
    client = guarded({"prefix": {"hour": {"floor": 1}}}).test_client()
    assert ask(client, in_prefix(0)).status_code == 202  # the one unverified send allowed
    waits = []
    for n in range(1, 4):  # each time just after the last block ended: one step up
        waits.append(int(ask(client, in_prefix(n)).headers["Retry-After"]))
        clock.advance(waits[-1] + 1)
    assert ask(client, in_prefix(10)).status_code == 202  # its sends are out of the hour
    waits.append(int(ask(client, in_prefix(11)).headers["Retry-After"]))
    assert waits == [100, 1000, 10000, 10000]
    clock.advance(10000 + 2 * 3600)  # ended by itself, long before: the first step again
    assert ask(client, in_prefix(20)).status_code == 202
    assert ask(client, in_prefix(21)).headers["Retry-After"] == "100"


def test_a_trusted_caller_lifts_a_block_and_the_business_system_hears_of_both(
    guarded: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    hooks = [{"url": httpserver.url_for("/hook"), "events": ["fraud.blocked", "fraud.unblocked"]}]
    app = guarded(
        {"prefix": {"hour": {"floor": 1}}}, webhooks=[{**hooks[0], "secret": "${HOOK_SECRET}"}]
    )
    app.extensions["otp"].webhooks.autostart = False
    client = app.test_client()
    ask(client, in_prefix(1))
    assert ask(client, in_prefix(2)).status_code == 403
    path = "/otp/guard/blocks/prefix/+4915112345"
    assert client.delete(path).status_code == 401
    lifted = client.delete(path, headers=TRUSTED)
    assert lifted.status_code == 200
    body = lifted.get_json()
    assert (body["value"], body["lifted"]) == ("+4915112345", True)
    assert body["cause"] == "1 unverified sends in the sliding hour (limit 1)"
    assert client.delete(path, headers=TRUSTED).status_code == 404
    assert client.delete("/otp/guard/blocks/country/XX", headers=TRUSTED).status_code == 400
    assert ask(client, in_prefix(3)).status_code == 202  # its history went with it: step 1
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert app.extensions["otp"].webhooks.run_once() == 2
    events = [request.get_json() for request, _ in httpserver.log]
    assert [e["event"] for e in events] == ["fraud.blocked", "fraud.unblocked"]
    assert events[0]["data"] == {
        "scope": "prefix",
        "value": "+4915112345",
        "mode": "enforce",
        "step": 1,
        "until": events[0]["data"]["until"],
        "reason": "1 unverified sends in the sliding hour (limit 1)",
        "country": "DE",
    }


def test_the_command_lists_blocks_with_their_cause_and_lifts_them(
    guarded: Callable[..., Flask],
) -> None:
    app = guarded({"ip": {"countries": 1}})
    client = app.test_client()
    ask(client, spread(1), ip="203.0.113.5")
    assert ask(client, "+33612345678", ip="203.0.113.5").status_code == 403
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["otp", "guard"])
    assert "blocks in force: 1" in listed.output
    assert "ip      203.0.113.5" in listed.output
    assert "2 countries asked for today and none verified (limit 1)" in listed.output
    lifted = runner.invoke(args=["otp", "guard", "unblock", "203.0.113.5"])
    assert lifted.exit_code == 0, lifted.output
    assert "unblocked ip 203.0.113.5" in lifted.output
    assert "blocks in force: none" in runner.invoke(args=["otp", "guard"]).output
    missing = runner.invoke(args=["otp", "guard", "unblock", "DE"])
    assert missing.exit_code == 1
    assert "No country block of DE is in force." in missing.output


def test_the_safe_list_and_test_numbers_are_never_counted_nor_blocked(
    guarded: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    app = guarded(
        {"prefix": {"hour": {"floor": 1}}, "safe_list": ["+4915112345", "+33612345678"]},
    )
    client = app.test_client()
    assert {ask(client, in_prefix(n)).status_code for n in range(5)} == {202}
    assert ask(client, "+33612345678").status_code == 202
    assert not redis_client.keys("otp:{g49}:guard*")


def test_test_numbers_are_never_counted(
    routed_app: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    guard = merged(QUIET_GUARD, {"prefix": {"hour": {"floor": 1}}})
    app = routed_app(routing(guard), {}, OTP_TEST_NUMBERS="+4915112345001=123456")
    client = app.test_client()
    assert ask(client, in_prefix(1)).status_code == 202
    assert not redis_client.keys("otp:{g49}:guard:n:*")
    assert ask(client, in_prefix(2)).status_code == 202


def test_monitor_mode_lets_everything_through_and_records_what_it_would_block(
    guarded: Callable[..., Flask],
) -> None:
    app = guarded({"mode": "off", "countries": {"DE": "monitor"}, "prefix": {"hour": {"floor": 2}}})
    client = app.test_client()

    def suspect() -> float:
        return REGISTRY.get_sample_value("otp_guard_suspect_total", {"reason": "prefix"}) or 0

    before = suspect()
    assert {ask(client, in_prefix(n)).status_code for n in range(5)} == {202}
    assert suspect() - before == 3
    [block] = app.extensions["otp"].guard.blocks()
    assert (block.scope, block.value, block.mode) == ("prefix", "+4915112345", "monitor")


def test_off_costs_nothing_and_on_one_round_trip(
    routed_app: Callable[..., Flask], guarded: Callable[..., Flask]
) -> None:
    def trips_per_request(app: Flask, first: int) -> float:
        client = app.test_client()
        ask(client, spread(first))  # scripts loaded
        with round_trips() as sent:
            for n in range(first + 1, first + 6):
                assert ask(client, spread(n)).status_code == 202
            return sent() / 5

    plain_app = routed_app(routing(), {})
    if isinstance(plain_app.extensions["otp"].redis, RedisCluster):
        pytest.skip("a Cluster splits pipelines by node and runs each script on its own")
    plain = trips_per_request(plain_app, 0)
    elsewhere = trips_per_request(guarded({"mode": "off", "countries": {"FR": "enforce"}}), 10)
    on = trips_per_request(guarded(), 20)
    assert elsewhere == plain
    assert on == plain + 1


def test_the_twilio_api_says_a_block_as_60410() -> None:
    error = ApiError("fraud_blocked", "held back", {"reason": "prefix"}, retry_after=50)
    said = twilio_shapes.from_service(error)
    assert (said.code, said.status, said.headers) == (60410, 403, {"Retry-After": "50"})


@pytest.mark.parametrize(
    ("scope", "value", "key"),
    [
        ("prefix", "+4915112345", "otp:{g49}:guard:b:p:+4915112345"),
        ("prefix", "+1415555", "otp:{g1}:guard:b:p:+1415555"),
        ("country", "DE", "otp:{g49}:guard:b:c:DE"),
        ("ip", "203.0.113.5", "otp:{ip:203.0.113.5}:guard:b"),
    ],
)
def test_block_keys_share_a_slot_with_what_they_are_checked_with(
    scope: str, value: str, key: str
) -> None:
    assert keys.block_key(scope, value) == key
    assert keys.scope_of(key) == (scope, value)
    assert keys.history_key(key).count("}:guard:e") == 1


def test_a_wrong_routing_file_section_names_each_problem(
    routed_app: Callable[..., Flask],
) -> None:
    from app.routing_file import RoutingError

    wrong = {
        "mode": "block",
        "countries": {"Mars": "enforce"},
        "prefix_digits": 9,
        "safe_list": ["4915"],
        "blocks": [],
        "bot_check": {"provider": "captchaco", "site_key": "k", "secret": "literal"},
    }
    with pytest.raises(RoutingError) as raised:
        routed_app(routing(wrong), {})
    problems = "\n".join(raised.value.problems)
    for part in (
        "fraud_guard.mode: must be one of ['off', 'monitor', 'enforce']",
        "fraud_guard.countries.Mars: unknown country code 'Mars'",
        "fraud_guard.prefix_digits: must be a whole number from 0 to 6",
        "fraud_guard.safe_list: not a number or the start of one",
        "fraud_guard.blocks: list at least one block length",
        "fraud_guard.bot_check.provider: must be one of",
        "fraud_guard.bot_check.secret: a secret must come from the environment",
    ):
        assert part in problems


def test_the_guard_is_left_out_when_off(client: FlaskClient, app: Flask) -> None:
    assert app.extensions["otp"].guard is None
    answer = client.delete("/otp/guard/blocks/prefix/+4915112345", headers=TRUSTED)
    assert answer.status_code == 404
