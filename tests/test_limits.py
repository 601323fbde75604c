"""Rate limits: per client IP (limits package) and per destination (counted in the scripts)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask

from .conftest import TRUSTED


def _phone(n: int) -> str:
    return f"+1415555{n:04d}"


def test_ip_limit_on_request_with_retry_after(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_REQUEST="3/minute").test_client()
    for n in range(3):
        assert client.post("/otp/request", json={"phone": _phone(n)}).status_code == 202
    response = client.post("/otp/request", json={"phone": _phone(9)})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 61


def test_ip_limit_on_verify(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_VERIFY="2/minute").test_client()
    body = {"id": "a" * 30, "code": "123456"}
    assert [client.post("/otp/verify", json=body).status_code for _ in range(3)] == [404, 404, 429]


def test_an_ipv6_client_is_limited_by_its_64_whichever_address_it_takes(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(OTP_LIMIT_IP_VERIFY="2/minute").test_client()
    body = {"id": "a" * 30, "code": "123456"}

    def verify_from(address: str) -> int:
        answer = client.post("/otp/verify", json=body, environ_base={"REMOTE_ADDR": address})
        return answer.status_code

    own = ["2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:ffff::9"]
    assert [verify_from(address) for address in own] == [404, 404, 429]
    assert verify_from("2001:db8:0:8::1") == 404  # the next /64: another subscriber
    # An IPv4 address counts alone, the same whether it comes as itself or IPv4-mapped.
    assert [verify_from("203.0.113.7"), verify_from("::ffff:203.0.113.7")] == [404, 404]
    assert verify_from("203.0.113.7") == 429
    assert verify_from("203.0.113.8") == 404


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_REQUEST="2/minute").test_client()
    statuses = [
        client.post(
            "/otp/request", json={"phone": _phone(n)}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ).status_code
        for n in range(3)
    ]
    assert statuses == [202, 202, 429]


def test_forwarded_for_is_the_client_behind_a_trusted_proxy(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_REQUEST="2/minute", OTP_TRUSTED_PROXIES="1").test_client()

    def from_ip(ip: str, n: int) -> int:
        response = client.post(
            "/otp/request", json={"phone": _phone(n)}, headers={"X-Forwarded-For": ip}
        )
        return response.status_code

    assert [from_ip("203.0.113.1", n) for n in range(3)] == [202, 202, 429]
    assert from_ip("203.0.113.2", 5) == 202


def test_destination_hourly_limit_counts_sends(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_PHONE_HOURLY="2", OTP_RESEND_COOLDOWN="0").test_client()
    phone = {"phone": _phone(1)}
    assert client.post("/otp/request", json=phone).status_code == 202
    assert client.post("/otp/request", json=phone).status_code == 202  # a resend counts too
    response = client.post("/otp/request", json=phone)
    assert response.status_code == 429
    assert response.get_json()["error"]["details"]["reason"] == "destination_quota"
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    # Another destination is unaffected.
    assert client.post("/otp/request", json={"phone": _phone(2)}).status_code == 202


def test_destination_daily_limit(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_PHONE_DAILY="1").test_client()
    started = client.post("/otp/request", json={"phone": _phone(1)}).get_json()
    client.post(f"/otp/{started['id']}/cancel", headers=TRUSTED)
    response = client.post("/otp/request", json={"phone": _phone(1)})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) <= 86400


def _quota_key(app: Flask, phone: str) -> str:
    return str(app.extensions["otp"].service.codes.ref_for(phone, "login").quota_key)


def test_destination_counts_are_one_integer_that_ends_with_the_day(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(OTP_LIMIT_PHONE_HOURLY="2", OTP_LIMIT_PHONE_DAILY="3")
    client, store = app.test_client(), app.extensions["otp"].redis
    key = _quota_key(app, _phone(1))
    now = int(time.time())
    assert client.post("/otp/request", json={"phone": _phone(1)}).status_code == 202
    assert int(store.get(key)) == (1 * 1 + 1) * 24 + now // 3600 % 24
    assert 0 < store.ttl(key) <= 86400 - now % 86400
    # Two sends of the day, both in an hour before this one: the hour's count starts again.
    store.set(key, (2 * 2 + 2) * 24 + (now // 3600 + 1) % 24)
    phone = {"phone": _phone(1), "purpose": "signup"}
    assert client.post("/otp/request", json=phone).status_code == 202
    response = client.post("/otp/request", json={**phone, "purpose": "reset"})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 86400 - now % 86400


def test_destination_counts_kept_as_a_hash_before_still_count(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(OTP_LIMIT_PHONE_HOURLY="2")
    client, store = app.test_client(), app.extensions["otp"].redis
    key = _quota_key(app, _phone(1))
    now = int(time.time())
    store.hset(key, mapping={"hb": now // 3600, "hc": 1, "db": now // 86400, "dc": 1})
    assert client.post("/otp/request", json={"phone": _phone(1)}).status_code == 202
    assert int(store.get(key)) == (2 * 2 + 2) * 24 + now // 3600 % 24
    response = client.post("/otp/request", json={"phone": _phone(1), "purpose": "signup"})
    assert response.status_code == 429
