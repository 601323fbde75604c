"""The verification lifecycle end to end over HTTP, against a real Redis."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import jwt
import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.verification.codes import hotp

from .conftest import TRUSTED, outbox_code

PHONE = "+8613800138000"


def request_code(client: FlaskClient, phone: str = PHONE, **extra: str) -> dict[str, object]:
    response = client.post("/otp/request", json={"phone": phone, **extra})
    assert response.status_code == 202, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def test_request_outbox_verify_and_token_checked_against_jwks(client: FlaskClient) -> None:
    started = request_code(client)
    assert started["status"] == "pending"
    assert started["to"] == "+86138****8000"
    assert started["route"] == {
        "provider": "console",
        "own_numbers": True,
        "channel": "sms",
        "attempts": 1,
    }
    code = outbox_code(client, PHONE)

    response = client.post("/otp/verify", json={"id": started["id"], "code": code})
    assert response.status_code == 200
    token = response.get_json()["token"]

    jwks = client.get("/.well-known/jwks.json").get_json()
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    assert key.key_id == jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], issuer="otp-service")
    assert claims["sub"] == PHONE
    assert claims["purpose"] == "login"
    assert claims["vid"] == started["id"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


def test_verify_by_phone_and_purpose(client: FlaskClient) -> None:
    started = request_code(client, purpose="signup")
    code = outbox_code(client, PHONE)
    response = client.post(
        "/otp/verify", json={"phone": PHONE, "purpose": "signup", "code": code}, headers=TRUSTED
    )
    assert response.status_code == 200
    assert response.get_json()["id"] == started["id"]


def test_national_number_with_country(client: FlaskClient) -> None:
    started = request_code(client, phone="138 0013 8000", country="CN")
    assert started["to"] == "+86138****8000"


def test_approval_burns_the_code(client: FlaskClient) -> None:
    started = request_code(client)
    code = outbox_code(client, PHONE)
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 200
    again = client.post("/otp/verify", json={"id": started["id"], "code": code})
    assert again.status_code == 404
    assert again.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/otp/{started['id']}").get_json()["status"] == "approved"


def test_wrong_codes_count_down_then_burn(client: FlaskClient) -> None:
    started = request_code(client)
    code = outbox_code(client, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = client.post("/otp/verify", json={"id": started["id"], "code": wrong})
        assert response.status_code == 400
        assert response.get_json()["error"] == {
            "code": "invalid_code",
            "message": "The code is not correct.",
            "details": {"attempts_left": left},
        }
    response = client.post("/otp/verify", json={"id": started["id"], "code": wrong})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    # Burned: even the right code no longer works.
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 404
    assert client.get(f"/otp/{started['id']}").get_json()["status"] == "too_many_attempts"


def test_expiry(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_TTL="1").test_client()
    started = request_code(client)
    assert started["expires_in"] == 1
    code = outbox_code(client, PHONE)
    time.sleep(1.6)
    response = client.post("/otp/verify", json={"id": started["id"], "code": code})
    assert response.status_code == 404
    assert client.get(f"/otp/{started['id']}").status_code == 404


def test_asking_again_resends_the_same_code_under_a_new_id(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="1").test_client()
    first = request_code(client)
    code = outbox_code(client, PHONE)
    assert first["resend_after"] == 1

    early = client.post("/otp/request", json={"phone": PHONE})
    assert early.status_code == 429
    assert early.get_json()["error"]["details"] == {"reason": "resend_cooldown"}
    assert early.headers["Retry-After"] == "1"

    time.sleep(1.1)
    second = request_code(client)
    assert second["id"] != first["id"]  # an id of its own: nobody learns another's
    assert second["id"][:14] == first["id"][:14]  # the same verification's keys
    assert second["resend_after"] == 2  # the cooldown doubles: 1, 2, 4 ...
    assert outbox_code(client, PHONE) == code
    messages = client.get("/dev/outbox", query_string={"to": PHONE}).get_json()["messages"]
    assert len(messages) == 2
    assert client.get(f"/otp/{first['id']}", headers=TRUSTED).get_json()["sends"] == 2
    assert client.post("/otp/verify", json={"id": second["id"], "code": code}).status_code == 200
    # One code, one approval: the first id's holder can no longer use it.
    assert client.post("/otp/verify", json={"id": first["id"], "code": code}).status_code == 404


def test_resend_of_a_held_verification(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="1").test_client()
    started = request_code(client)
    code = outbox_code(client, PHONE)
    early = client.post(f"/otp/{started['id']}/resend")
    assert early.status_code == 429
    assert early.get_json()["error"]["details"] == {"reason": "resend_cooldown"}
    time.sleep(1.1)
    again = client.post(f"/otp/{started['id']}/resend")
    assert again.status_code == 202
    assert again.get_json()["id"] == started["id"]
    assert again.get_json()["resend_after"] == 2
    assert outbox_code(client, PHONE) == code
    assert client.post(f"/otp/{'a' * 30}/resend").status_code == 404
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 200
    assert client.post(f"/otp/{started['id']}/resend").status_code == 404


def test_at_most_max_sends(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="0", OTP_MAX_SENDS="3").test_client()
    ids = {request_code(client)["id"] for _ in range(3)}
    assert len(ids) == 3
    response = client.post("/otp/request", json={"phone": PHONE})
    assert response.status_code == 429
    assert response.get_json()["error"]["details"]["reason"] == "max_sends"
    assert int(response.headers["Retry-After"]) > 0


def test_cancel(client: FlaskClient) -> None:
    started = request_code(client)
    code = outbox_code(client, PHONE)
    response = client.post(f"/otp/{started['id']}/cancel", headers=TRUSTED)
    assert response.get_json() == {"id": started["id"], "status": "cancelled"}
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 404
    assert client.post(f"/otp/{started['id']}/cancel", headers=TRUSTED).status_code == 404
    # A new request after cancelling starts a new verification.
    assert request_code(client)["id"] != started["id"]


def test_status_shows_delivery_attempts(client: FlaskClient) -> None:
    started = request_code(client)
    status = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()
    assert status["status"] == "pending"
    assert status["to"] == "+86138****8000"
    assert status["country"] == "CN"
    (attempt,) = status["attempts"]
    assert attempt["provider"] == "console"
    assert attempt["outcome"] == "sent"
    assert attempt["message_id"].startswith("console-")


def test_email_channel(client: FlaskClient) -> None:
    response = client.post("/otp/request", json={"channel": "email", "email": "Ana@Example.com"})
    assert response.status_code == 202
    assert response.get_json()["to"] == "a***@example.com"
    code = outbox_code(client, "ana@example.com")
    verify = client.post(
        "/otp/verify", json={"email": "ana@example.com", "code": code}, headers=TRUSTED
    )
    assert verify.status_code == 200
    claims = jwt.decode(verify.get_json()["token"], options={"verify_signature": False})
    assert claims["sub"] == "ana@example.com"


@pytest.mark.parametrize("length", [4, 5, 8])
def test_code_length_setting(make_app: Callable[..., Flask], length: int) -> None:
    client = make_app(OTP_CODE_LENGTH=str(length)).test_client()
    started = request_code(client)
    code = outbox_code(client, PHONE)
    assert len(code) == length
    response = client.post("/otp/verify", json={"id": started["id"], "code": code})
    assert response.status_code == 200


# RFC 4226 Appendix D: the key "12345678901234567890" and the decimal value of the truncated
# HMAC at counters 0 to 9; an n-digit HOTP value is its last n digits.
RFC_4226_TRUNCATED = [
    1284755224, 1094287082, 137359152, 1726969429, 1640338314,
    868254676, 1918287922, 82162583, 673399871, 645520489,
]  # fmt: skip


@pytest.mark.parametrize("digits", range(4, 11))
def test_codes_are_rfc_4226_hotp_values_and_pyotps_where_it_computes_them(digits: int) -> None:
    key = b"12345678901234567890"
    for counter, truncated in enumerate(RFC_4226_TRUNCATED):
        expected = str(truncated % 10**digits).zfill(digits)
        assert hotp(key, counter, digits) == expected
        if digits >= 6:  # pyotp's range
            secret = base64.b32encode(key).decode()
            assert pyotp.HOTP(secret, digits=digits).at(counter) == expected


def test_test_number_has_a_fixed_code_and_sends_nothing(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_TEST_NUMBERS="+15005550006=246810").test_client()
    started = request_code(client, phone="+15005550006")
    assert started["route"]["test_number"] is True
    assert client.get("/dev/outbox").get_json()["messages"] == []
    response = client.post("/otp/verify", json={"id": started["id"], "code": "246810"})
    assert response.status_code == 200
