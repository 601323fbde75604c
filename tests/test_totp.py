"""Authenticator-app (TOTP) factors over HTTP: enrol, confirm, verify, replay, lock, expiry."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pyotp
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from .conftest import TRUSTED

KEY = base64.b64encode(bytes(range(32))).decode()
PERIOD = 30


class Clock:
    """The factor service's time, moved by the test; starts one second into a time step."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // PERIOD * PERIOD + 1)

    def __call__(self) -> float:
        return self.now

    def steps(self, count: int) -> None:
        self.now += count * PERIOD


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def totp_app(make_app: Callable[..., Flask], clock: Clock) -> Callable[..., Flask]:
    """An app with TOTP keys whose factor service runs on `clock`."""

    def make(**overrides: str) -> Flask:
        app = make_app(**{"OTP_TOTP_KEYS": f"k1:{KEY}", **overrides})
        app.extensions["otp"].factors.clock = clock
        return app

    return make


@pytest.fixture
def client(totp_app: Callable[..., Flask]) -> FlaskClient:
    return totp_app().test_client()


def enrol(client: FlaskClient, entity: str = "user_1") -> tuple[str, pyotp.TOTP]:
    """A new factor's id and the app's view of it, read from its otpauth URI."""
    answer = client.post("/totp/factors", json={"entity": entity}, headers=TRUSTED)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    totp = pyotp.parse_uri(body["uri"])
    assert isinstance(totp, pyotp.TOTP)
    return body["id"], totp


def confirmed(client: FlaskClient, clock: Clock, entity: str = "user_1") -> tuple[str, pyotp.TOTP]:
    factor_id, totp = enrol(client, entity)
    answer = confirm(client, factor_id, totp.at(clock.now))
    assert answer.status_code == 200, answer.get_json()
    return factor_id, totp


def confirm(client: FlaskClient, factor_id: str, code: str) -> Any:
    return client.post(f"/totp/factors/{factor_id}/confirm", json={"code": code}, headers=TRUSTED)


def verify(client: FlaskClient, code: str, **target: str) -> Any:
    return client.post("/totp/verify", json={"code": code, **target}, headers=TRUSTED)


def error_code(answer: Any) -> str:
    code: str = answer.get_json()["error"]["code"]
    return code


def test_enrol_confirm_verify_and_the_token(client: FlaskClient, clock: Clock) -> None:
    answer = client.post(
        "/totp/factors",
        json={"entity": "user_1", "label": "Ada", "issuer": "Acme"},
        headers=TRUSTED,
    )
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    enrolled = answer.get_json()
    assert enrolled["status"] == "unverified"
    assert enrolled["id"].startswith("YF")
    assert enrolled["uri"].startswith("otpauth://totp/Acme:Ada?")
    assert enrolled["qr_svg"].startswith("<svg xmlns=")
    totp = pyotp.parse_uri(enrolled["uri"])
    assert totp.secret == enrolled["secret"]
    assert (totp.interval, totp.digits, totp.issuer) == (30, 6, "Acme")

    assert error_code(verify(client, totp.at(clock.now), factor_id=enrolled["id"])) == (
        "factor_unverified"
    )
    confirmed = confirm(client, enrolled["id"], totp.at(clock.now))
    assert confirmed.status_code == 200
    assert confirmed.get_json()["status"] == "verified"
    assert confirmed.get_json()["expires_in"] is None

    clock.steps(1)
    approved = verify(client, totp.at(clock.now), entity="user_1")
    assert approved.status_code == 200
    assert approved.get_json()["factor_id"] == enrolled["id"]
    claims = _checked_claims(client, approved.get_json()["token"])
    assert (claims["sub"], claims["factor"], claims["vid"]) == ("user_1", "totp", enrolled["id"])
    assert claims["purpose"] == "login"

    listed = client.get("/totp/entities/user_1/factors", headers=TRUSTED).get_json()
    assert [f["id"] for f in listed["factors"]] == [enrolled["id"]]
    assert listed["factors"][0]["last_used"] == int(clock.now)


def _checked_claims(client: FlaskClient, token: str) -> dict[str, Any]:
    """The token's claims, its signature checked against the published keys."""
    jwks = client.get("/.well-known/jwks.json").get_json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["EdDSA"], issuer="otp-service")
    return claims


@pytest.mark.parametrize(
    ("skew", "offset", "accepted"),
    [
        (1, -1, True),
        (1, 1, True),
        (1, -2, False),
        (1, 2, False),
        (0, 0, True),
        (0, -1, False),
        (0, 1, False),
        (2, -2, True),
        (2, 2, True),
        (2, 3, False),
    ],
)
def test_codes_inside_the_skew_are_accepted_and_outside_refused(
    totp_app: Callable[..., Flask], clock: Clock, skew: int, offset: int, accepted: bool
) -> None:
    client = totp_app(OTP_TOTP_SKEW=str(skew)).test_client()
    factor_id, totp = confirmed(client, clock)
    clock.steps(10)
    answer = verify(client, totp.at(clock.now + offset * PERIOD), factor_id=factor_id)
    assert answer.status_code == (200 if accepted else 400), answer.get_json()


def test_a_code_and_every_earlier_one_are_good_once(client: FlaskClient, clock: Clock) -> None:
    factor_id, totp = confirmed(client, clock)
    clock.steps(5)
    assert verify(client, totp.at(clock.now), factor_id=factor_id).status_code == 200

    again = verify(client, totp.at(clock.now), factor_id=factor_id)
    assert (again.status_code, error_code(again)) == (409, "code_replayed")
    earlier = verify(client, totp.at(clock.now - PERIOD), factor_id=factor_id)
    assert error_code(earlier) == "code_replayed"
    # A replayed code is no wrong guess: every try is still there.
    wrong = verify(client, _wrong(totp, clock), factor_id=factor_id)
    assert wrong.get_json()["error"]["details"] == {"attempts_left": 4}
    assert verify(client, totp.at(clock.now + PERIOD), factor_id=factor_id).status_code == 200


def _wrong(totp: pyotp.TOTP, clock: Clock) -> str:
    """A code no step of the widest window matches."""
    window = {totp.at(clock.now + offset * PERIOD) for offset in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in window)


def test_20_concurrent_submissions_of_one_code_make_one_success(
    totp_app: Callable[..., Flask], clock: Clock
) -> None:
    app = totp_app()
    factor_id, totp = confirmed(app.test_client(), clock)
    clock.steps(1)
    body = {"factor_id": factor_id, "code": totp.at(clock.now)}
    assert _race(app, 20, body) == {200: 1, 409: 19}


def _race(app: Flask, submissions: int, body: dict[str, str]) -> Counter[int]:
    """Post `body` to /totp/verify from `submissions` threads released together."""
    barrier = threading.Barrier(submissions)

    def submit(_: int) -> int:
        own_client = app.test_client()
        barrier.wait()
        return own_client.post("/totp/verify", json=body, headers=TRUSTED).status_code

    with ThreadPoolExecutor(submissions) as pool:
        return Counter(pool.map(submit, range(submissions)))


def test_five_wrong_codes_lock_the_factor_for_the_cool_down(
    totp_app: Callable[..., Flask], clock: Clock
) -> None:
    client = totp_app(OTP_TOTP_LOCK_SECONDS="120").test_client()
    factor_id, totp = confirmed(client, clock)
    clock.steps(1)
    wrong = _wrong(totp, clock)
    left = [verify(client, wrong, factor_id=factor_id).get_json() for _ in range(4)]
    assert [body["error"]["details"]["attempts_left"] for body in left] == [4, 3, 2, 1]

    locked = verify(client, wrong, factor_id=factor_id)
    assert (locked.status_code, error_code(locked)) == (429, "factor_locked")
    assert locked.headers["Retry-After"] == "120"
    right_too_soon = verify(client, totp.at(clock.now), factor_id=factor_id)
    assert error_code(right_too_soon) == "factor_locked"
    clock.now += 60
    assert verify(client, totp.at(clock.now), factor_id=factor_id).headers["Retry-After"] == "60"

    clock.now += 60
    assert verify(client, totp.at(clock.now), factor_id=factor_id).status_code == 200
    # The count starts again after a success.
    assert verify(client, wrong, factor_id=factor_id).get_json()["error"]["details"] == {
        "attempts_left": 4
    }


def test_an_unconfirmed_factor_expires(totp_app: Callable[..., Flask], clock: Clock) -> None:
    client = totp_app(OTP_TOTP_ENROL_TTL="1").test_client()
    factor_id, totp = enrol(client)
    listed = client.get("/totp/entities/user_1/factors", headers=TRUSTED).get_json()
    assert listed["factors"][0]["expires_in"] in (0, 1)
    time.sleep(1.1)
    clock.now += 1.1
    assert client.get("/totp/entities/user_1/factors", headers=TRUSTED).get_json()["factors"] == []
    assert confirm(client, factor_id, totp.at(clock.now)).status_code == 404


def test_confirmed_factors_stay_and_the_index_forgets_the_expired(
    totp_app: Callable[..., Flask], clock: Clock, redis_client: redis.Redis
) -> None:
    client = totp_app(OTP_TOTP_ENROL_TTL="1").test_client()
    kept, _ = confirmed(client, clock)
    enrol(client)
    time.sleep(1.1)
    clock.now += 1.1
    enrol(client)  # prunes the expired one from the entity's index
    keys = {key.decode() for key in redis_client.scan_iter("otp:*")}
    index = next(key for key in keys if key.endswith(":te"))
    assert redis_client.zcard(index) == 2
    assert redis_client.ttl(f"otp:{{{kept[2:12]}}}:tf:{kept[12:]}") == -1
    assert redis_client.ttl(index) == -1


def test_an_entity_with_several_factors_names_one(client: FlaskClient, clock: Clock) -> None:
    first, totp = confirmed(client, clock)
    confirmed(client, clock)
    clock.steps(1)
    answer = verify(client, totp.at(clock.now), entity="user_1")
    assert error_code(answer) == "validation_error"
    assert "factor_id" in answer.get_json()["error"]["details"]["fields"]
    assert verify(client, totp.at(clock.now), factor_id=first).status_code == 200
    assert error_code(verify(client, "123456", entity="nobody")) == "not_found"


def test_the_number_of_factors_per_entity_is_bounded(
    totp_app: Callable[..., Flask],
) -> None:
    client = totp_app(OTP_TOTP_MAX_FACTORS="2").test_client()
    enrol(client)
    enrol(client)
    refused = client.post("/totp/factors", json={"entity": "user_1"}, headers=TRUSTED)
    assert (refused.status_code, error_code(refused)) == (409, "factor_limit")
    assert refused.get_json()["error"]["details"] == {"factors": 2, "max_factors": 2}
    enrol(client, "user_2")


def test_a_deleted_factor_is_gone(client: FlaskClient, clock: Clock) -> None:
    factor_id, totp = confirmed(client, clock)
    deleted = client.delete(f"/totp/factors/{factor_id}", headers=TRUSTED)
    assert deleted.get_json() == {"id": factor_id, "status": "deleted"}
    clock.steps(1)
    assert error_code(verify(client, totp.at(clock.now), factor_id=factor_id)) == "not_found"
    assert client.delete(f"/totp/factors/{factor_id}", headers=TRUSTED).status_code == 404
    assert client.get("/totp/entities/user_1/factors", headers=TRUSTED).get_json()["factors"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"entity": "ada@example.com"},
        {"entity": "+8613800138000"},
        {"entity": "x" * 65},
        {"entity": "user_1", "label": "a:b"},
        {"entity": "user_1", "extra": 1},
        {},
    ],
)
def test_an_entity_is_an_opaque_id(client: FlaskClient, body: dict[str, Any]) -> None:
    answer = client.post("/totp/factors", json=body, headers=TRUSTED)
    assert (answer.status_code, error_code(answer)) == (400, "validation_error")


def test_bad_ids_and_bodies_are_clear_errors(client: FlaskClient) -> None:
    assert client.get("/totp/entities/a@b/factors", headers=TRUSTED).status_code == 400
    assert error_code(confirm(client, "YFnotours", "123456")) == "not_found"
    both = verify(client, "123456", entity="user_1", factor_id="YF" + "a" * 26)
    assert error_code(both) == "validation_error"
    assert error_code(verify(client, "12345", entity="user_1")) == "validation_error"


def test_public_callers_and_wrong_keys_get_401(client: FlaskClient) -> None:
    factor = "YF" + "a" * 26
    calls = [
        ("post", "/totp/factors", {"entity": "user_1"}),
        ("post", f"/totp/factors/{factor}/confirm", {"code": "123456"}),
        ("post", "/totp/verify", {"entity": "user_1", "code": "123456"}),
        ("get", "/totp/entities/user_1/factors", None),
        ("delete", f"/totp/factors/{factor}", None),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}):
            answer = getattr(client, method)(path, json=body, headers=headers)
            assert (answer.status_code, error_code(answer)) == (401, "unauthorized"), path


def test_the_secret_is_never_answered_again_nor_logged(
    client: FlaskClient, clock: Clock, caplog: pytest.LogCaptureFixture, redis_client: redis.Redis
) -> None:
    caplog.set_level(logging.DEBUG)
    factor_id, totp = enrol(client)
    secret = totp.secret
    answers = [
        confirm(client, factor_id, _wrong(totp, clock)),
        confirm(client, factor_id, totp.at(clock.now)),
        verify(client, totp.at(clock.now), factor_id=factor_id),
        verify(client, _wrong(totp, clock), entity="user_1"),
        client.get("/totp/entities/user_1/factors", headers=TRUSTED),
        client.delete(f"/totp/factors/{factor_id}", headers=TRUSTED),
    ]
    assert [a.status_code for a in answers] == [400, 200, 409, 400, 200, 200]
    for answer in answers:
        assert secret not in answer.get_data(as_text=True)
    assert caplog.records
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in str(record.__dict__)


def test_redis_holds_the_secret_sealed(client: FlaskClient, redis_client: redis.Redis) -> None:
    factor_id, totp = enrol(client)
    stored = redis_client.hgetall(f"otp:{{{factor_id[2:12]}}}:tf:{factor_id[12:]}")
    assert stored[b"k"].startswith(b"k1.")
    assert totp.secret.encode() not in b"".join(stored.values())
    assert base64.b32decode(totp.secret) not in b"".join(stored.values())


def test_real_answers_fit_the_document(client: FlaskClient, clock: Clock) -> None:
    from .test_openapi import _check

    document = client.get("/openapi.json").get_json()
    enrolled = client.post("/totp/factors", json={"entity": "user_1"}, headers=TRUSTED)
    _check(document, "/totp/factors", "post", enrolled)
    factor_id, totp = enrolled.get_json()["id"], pyotp.parse_uri(enrolled.get_json()["uri"])
    confirm_path = "/totp/factors/{factor_id}/confirm"
    _check(document, confirm_path, "post", confirm(client, factor_id, _wrong(totp, clock)))
    _check(document, confirm_path, "post", confirm(client, factor_id, totp.at(clock.now)))
    _check(document, "/totp/verify", "post", verify(client, totp.at(clock.now), entity="user_1"))
    clock.steps(1)
    _check(document, "/totp/verify", "post", verify(client, totp.at(clock.now), entity="user_1"))
    for _ in range(5):
        locked = verify(client, _wrong(totp, clock), factor_id=factor_id)
    _check(document, "/totp/verify", "post", locked)
    listed = client.get("/totp/entities/user_1/factors", headers=TRUSTED)
    _check(document, "/totp/entities/{entity}/factors", "get", listed)
    deleted = client.delete(f"/totp/factors/{factor_id}", headers=TRUSTED)
    _check(document, "/totp/factors/{factor_id}", "delete", deleted)
    _check(
        document, "/totp/factors/{factor_id}", "delete", client.delete(f"/totp/factors/{factor_id}")
    )
    demo = client.post("/demo/totp/factors", json={"entity": "demo-user"})
    _check(document, "/demo/totp/factors", "post", demo)
