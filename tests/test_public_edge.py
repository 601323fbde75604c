"""Public and trusted callers: ids are capabilities, keys are checked, answers replay."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt
import redis
from flask import Flask
from flask.testing import FlaskClient

from .conftest import API_KEY, TRUSTED, outbox_code

PHONE = "+8613800138000"


def _request(client: FlaskClient, **headers: str) -> dict[str, object]:
    response = client.post("/otp/request", json={"phone": PHONE}, headers=headers)
    assert response.status_code == 202, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def _everything_said(*answers: object) -> str:
    return " ".join(str(answer) for answer in answers)


def test_a_stranger_knowing_the_number_never_learns_the_id(make_app: Callable[..., Flask]) -> None:
    """Property (a): no answer to a stranger names the verification someone else started."""
    client = make_app(OTP_RESEND_COOLDOWN="2").test_client()
    victim = _request(client)
    during_cooldown = client.post("/otp/request", json={"phone": PHONE})
    assert during_cooldown.status_code == 429
    time.sleep(2.1)
    stranger = client.post("/otp/request", json={"phone": PHONE})
    assert stranger.status_code == 202
    said = _everything_said(
        during_cooldown.get_json(), during_cooldown.headers, stranger.get_json(), stranger.headers
    )
    assert str(victim["id"]) not in said
    assert str(victim["id"])[14:] not in said  # not even its random part


def test_a_stranger_cannot_read_cancel_or_spend_the_victims_tries(
    make_app: Callable[..., Flask],
) -> None:
    """Property (a): the stranger's own handle spends only its own tries."""
    client = make_app(OTP_RESEND_COOLDOWN="0").test_client()
    victim = _request(client)
    code = outbox_code(client, PHONE)
    stranger = _request(client)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post("/otp/verify", json={"id": stranger["id"], "code": wrong})
    burned = client.post("/otp/verify", json={"id": stranger["id"], "code": code})
    assert burned.status_code == 404  # the stranger's handle is burned
    assert client.get(f"/otp/{stranger['id']}").get_json()["status"] == "too_many_attempts"
    # The victim's handle is untouched: still pending, all tries left, and it approves.
    assert client.get(f"/otp/{victim['id']}").get_json()["status"] == "pending"
    cancel = client.post(f"/otp/{victim['id']}/cancel")
    assert cancel.status_code == 401
    assert cancel.headers["WWW-Authenticate"] == "Bearer"
    first_try = client.post("/otp/verify", json={"id": victim["id"], "code": wrong})
    assert first_try.get_json()["error"]["details"] == {"attempts_left": 4}
    assert client.post("/otp/verify", json={"id": victim["id"], "code": code}).status_code == 200


def test_the_public_view_shows_no_attempts_route_or_costs(client: FlaskClient) -> None:
    started = _request(client)
    public = client.get(f"/otp/{started['id']}").get_json()
    assert set(public) == {"id", "status", "channel", "to", "expires_in", "resend_after"}
    assert public["to"] == "+86138****8000"
    full = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()
    assert {"attempts", "route", "purpose", "country", "sends"} <= set(full)


def test_a_reload_gets_a_code_that_works_with_the_new_id(make_app: Callable[..., Flask]) -> None:
    """Property (b): the user lost the id; after the cooldown a new request gets a new id, and
    the code that arrives works with it."""
    client = make_app(OTP_RESEND_COOLDOWN="2").test_client()
    _request(client)  # the id is lost with the page
    time.sleep(2.1)
    reloaded = _request(client)
    code = outbox_code(client, PHONE)  # the newest message
    approved = client.post("/otp/verify", json={"id": reloaded["id"], "code": code})
    assert approved.status_code == 200
    assert approved.get_json()["id"] == reloaded["id"]


def test_a_public_verify_by_destination_is_refused_and_changes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    """Property (c)."""
    started = _request(client)
    code = outbox_code(client, PHONE)
    before = redis_client.hgetall(
        f"otp:{{{str(started['id'])[:10]}}}:v:{str(started['id'])[10:14]}"
    )
    for guess in (code, "000000"):
        refused = client.post("/otp/verify", json={"phone": PHONE, "code": guess})
        assert refused.status_code == 401
        assert refused.get_json()["error"]["code"] == "unauthorized"
    after = redis_client.hgetall(f"otp:{{{str(started['id'])[:10]}}}:v:{str(started['id'])[10:14]}")
    assert after == before
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 200


def test_a_trusted_caller_verifies_by_destination_and_cancels(client: FlaskClient) -> None:
    _request(client)
    code = outbox_code(client, PHONE)
    approved = client.post("/otp/verify", json={"phone": PHONE, "code": code}, headers=TRUSTED)
    assert approved.status_code == 200
    second = _request(client)
    cancelled = client.post(f"/otp/{second['id']}/cancel", headers=TRUSTED)
    assert cancelled.get_json() == {"id": second["id"], "status": "cancelled"}


def test_keys_rotate_and_a_wrong_key_is_never_public(make_app: Callable[..., Flask]) -> None:
    old, new = "old-key-" + "o" * 24, "new-key-" + "n" * 24
    client = make_app(OTP_API_KEYS=f"{old},{new}").test_client()
    started = _request(client)
    for key in (old, new):
        shown = client.get(f"/otp/{started['id']}", headers={"Authorization": f"Bearer {key}"})
        assert "attempts" in shown.get_json()
    for header in (f"Bearer {API_KEY}", "Bearer ", "Token abc", f"Bearer {old}x"):
        refused = client.get(f"/otp/{started['id']}", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.get_json()["error"]["code"] == "unauthorized"
        assert (
            client.post(
                "/otp/request", json={"phone": PHONE}, headers={"Authorization": header}
            ).status_code
            == 401
        )


def test_trusted_callers_are_exempt_from_the_per_ip_limits(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_REQUEST="2/minute").test_client()
    phones = [f"+1415555{n:04d}" for n in range(4)]
    public = [client.post("/otp/request", json={"phone": p}).status_code for p in phones[:3]]
    assert public == [202, 202, 429]
    trusted = client.post("/otp/request", json={"phone": phones[3]}, headers=TRUSTED)
    assert trusted.status_code == 202


def test_request_and_resend_share_one_per_ip_budget(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_REQUEST="2/minute", OTP_RESEND_COOLDOWN="0").test_client()
    started = _request(client)
    assert client.post(f"/otp/{started['id']}/resend").status_code == 202
    refused = client.post(f"/otp/{started['id']}/resend")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["details"] == {"reason": "client_ip"}
    assert 0 < int(refused.headers["Retry-After"]) <= 61


def test_ratelimit_headers_only_when_asked_for(make_app: Callable[..., Flask]) -> None:
    quiet = make_app(OTP_LIMIT_IP_VERIFY="5/minute").test_client()
    answer = quiet.post("/otp/verify", json={"id": "a" * 30, "code": "123456"})
    assert not [name for name, _ in answer.headers if name.lower().startswith("ratelimit")]
    told = make_app(OTP_LIMIT_IP_VERIFY="5/minute", RATELIMIT_HEADERS_ENABLED="true")
    answer = told.test_client().post("/otp/verify", json={"id": "a" * 30, "code": "123456"})
    assert answer.headers["RateLimit-Limit"] == "5"
    assert answer.headers["RateLimit-Remaining"] == "3"  # the first app's call counted too
    assert 0 < int(answer.headers["RateLimit-Reset"]) <= 60
    assert "Retry-After" not in answer.headers


def test_the_same_idempotency_key_replays_the_first_answer(client: FlaskClient) -> None:
    key = {"Idempotency-Key": "4a6f0c0e-8a4b-4d0e-b1f2-7c5d3e2a1b09"}
    first = client.post("/otp/request", json={"phone": PHONE, "purpose": "login"}, headers=key)
    # The same body: key order and spacing do not make it another call.
    same = '{ "purpose" : "login", "phone" : "' + PHONE + '" }'
    again = client.post("/otp/request", data=same, content_type="application/json", headers=key)
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    messages = client.get("/dev/outbox", query_string={"to": PHONE}).get_json()["messages"]
    assert len(messages) == 1, "the replay sent nothing"

    code = outbox_code(client, PHONE)
    verify_key = {"Idempotency-Key": "verify-once"}
    body = {"id": first.get_json()["id"], "code": code}
    approved = client.post("/otp/verify", json=body, headers=verify_key)
    lost_and_retried = client.post("/otp/verify", json=body, headers=verify_key)
    assert lost_and_retried.status_code == 200
    assert lost_and_retried.get_json()["token"] == approved.get_json()["token"]
    assert client.post("/otp/verify", json=body).status_code == 404  # without the key: used


def test_a_replayed_wrong_code_counts_once(client: FlaskClient) -> None:
    started = _request(client)
    code = outbox_code(client, PHONE)
    wrong = {"id": started["id"], "code": "000000" if code != "000000" else "111111"}
    key = {"Idempotency-Key": "wrong-once"}
    answers = [client.post("/otp/verify", json=wrong, headers=key) for _ in range(3)]
    assert [a.get_json()["error"]["details"]["attempts_left"] for a in answers] == [4, 4, 4]
    other = client.post("/otp/verify", json=wrong)
    assert other.get_json()["error"]["details"]["attempts_left"] == 3


def test_the_same_key_with_another_body_is_a_mismatch(client: FlaskClient) -> None:
    key = {"Idempotency-Key": "one-key"}
    assert client.post("/otp/request", json={"phone": PHONE}, headers=key).status_code == 202
    other = client.post("/otp/request", json={"phone": PHONE, "channel": "voice"}, headers=key)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_mismatch"
    messages = client.get("/dev/outbox", query_string={"to": PHONE}).get_json()["messages"]
    assert len(messages) == 1


def test_a_limit_refusal_is_not_replayed(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="2").test_client()
    _request(client)
    key = {"Idempotency-Key": "after-the-cooldown"}
    assert client.post("/otp/request", json={"phone": PHONE}, headers=key).status_code == 429
    time.sleep(2.1)
    assert client.post("/otp/request", json={"phone": PHONE}, headers=key).status_code == 202


def test_concurrent_calls_with_one_key_send_once(app: Flask) -> None:
    key = {"Idempotency-Key": "racing"}
    statuses: list[int] = []

    def call() -> None:
        answer = app.test_client().post("/otp/request", json={"phone": PHONE}, headers=key)
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(202) >= 1
    assert set(statuses) <= {202, 409}
    messages = app.test_client().get("/dev/outbox", query_string={"to": PHONE}).get_json()
    assert len(messages["messages"]) == 1


def test_no_stored_record_holds_the_code(client: FlaskClient, redis_client: redis.Redis) -> None:
    started = _request(client, **{"Idempotency-Key": "k1"})
    code = outbox_code(client, PHONE)
    client.post(
        "/otp/verify", json={"id": started["id"], "code": code}, headers={"Idempotency-Key": "k2"}
    )
    # Every key but the development outbox, which shows codes by design.
    names = [key for key in redis_client.keys("otp:{*") if key != b"otp:{outbox}:messages"]
    read = {
        b"hash": redis_client.hvals,
        b"string": lambda key: [redis_client.get(key) or b""],
        b"set": redis_client.smembers,
    }
    stored = b" ".join(b" ".join(read[redis_client.type(key)](key)) for key in names)
    assert code.encode() not in stored


def test_the_token_names_the_verification_and_its_subject(client: FlaskClient) -> None:
    started = _request(client)
    code = outbox_code(client, PHONE)
    token = client.post("/otp/verify", json={"id": started["id"], "code": code}).get_json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == PHONE
    assert claims["vid"] == started["id"]


def test_a_key_prefix_keeps_deployments_apart(
    make_app: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    first = make_app(OTP_KEY_PREFIX="tenant-a").test_client()
    started = _request(first)
    code = outbox_code(first, PHONE)
    names = {key.decode() for key in redis_client.keys("*")}
    ours = {name for name in names if not name.startswith("LIMITS:")}  # flask-limiter's own
    assert ours
    assert all(name.startswith("tenant-a:") for name in ours), ours
    assert all("/tenant-a/" in name for name in names - ours), names - ours
    second = make_app(OTP_KEY_PREFIX="tenant-b").test_client()
    assert second.get(f"/otp/{started['id']}").status_code == 404
    assert second.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 404
