"""Every bad input gets a 4xx JSON envelope, never a 500 or an HTML page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from .conftest import TRUSTED

CASES = [
    # (name, path, kwargs for client.post, status, error code)
    (
        "malformed json",
        "/otp/request",
        {"data": "{", "content_type": "application/json"},
        400,
        "validation_error",
    ),
    ("json array", "/otp/request", {"json": ["+8613800138000"]}, 400, "validation_error"),
    ("json string", "/otp/verify", {"json": "hello"}, 400, "validation_error"),
    ("not json", "/otp/request", {"data": "phone=+8613800138000"}, 415, "unsupported_media_type"),
    (
        "text/plain",
        "/otp/verify",
        {"data": "{}", "content_type": "text/plain"},
        415,
        "unsupported_media_type",
    ),
    ("missing phone", "/otp/request", {"json": {}}, 400, "validation_error"),
    (
        "phone wrong type",
        "/otp/request",
        {"json": {"phone": 8613800138000}},
        400,
        "validation_error",
    ),
    (
        "unknown channel",
        "/otp/request",
        {"json": {"phone": "+8613800138000", "channel": "fax"}},
        400,
        "validation_error",
    ),
    (
        "unknown field",
        "/otp/request",
        {"json": {"phone": "+8613800138000", "admin": True}},
        400,
        "validation_error",
    ),
    (
        "bad purpose",
        "/otp/request",
        {"json": {"phone": "+8613800138000", "purpose": "Log In!"}},
        400,
        "validation_error",
    ),
    (
        "email channel without email",
        "/otp/request",
        {"json": {"channel": "email"}},
        400,
        "validation_error",
    ),
    (
        "bad email",
        "/otp/request",
        {"json": {"channel": "email", "email": "not-an-address"}},
        400,
        "validation_error",
    ),
    ("not a number", "/otp/request", {"json": {"phone": "call me maybe"}}, 400, "invalid_phone"),
    ("invalid number", "/otp/request", {"json": {"phone": "+861234"}}, 400, "invalid_phone"),
    (
        "national without country",
        "/otp/request",
        {"json": {"phone": "13800138000"}},
        400,
        "invalid_phone",
    ),
    ("premium rate", "/otp/request", {"json": {"phone": "+19005551234"}}, 400, "invalid_phone"),
    ("uk premium rate", "/otp/request", {"json": {"phone": "+449098790000"}}, 400, "invalid_phone"),
    (
        "sms to a fixed line",
        "/otp/request",
        {"json": {"phone": "+442079460958"}},
        400,
        "unsupported_channel",
    ),
    ("verify without code", "/otp/verify", {"json": {"id": "x"}}, 400, "validation_error"),
    (
        "verify code not digits",
        "/otp/verify",
        {"json": {"id": "x", "code": "12ab56"}},
        400,
        "validation_error",
    ),
    ("verify without target", "/otp/verify", {"json": {"code": "123456"}}, 400, "validation_error"),
    (
        "verify unknown id",
        "/otp/verify",
        {"json": {"id": "nope", "code": "123456"}},
        404,
        "not_found",
    ),
    (
        "verify id of the right shape",
        "/otp/verify",
        {"json": {"id": "a" * 30, "code": "123456"}},
        404,
        "not_found",
    ),
    (
        "oversized body",
        "/otp/request",
        {"data": '{"phone": "' + "1" * 17000 + '"}', "content_type": "application/json"},
        413,
        "payload_too_large",
    ),
    ("cancel unknown", "/otp/abcdef/cancel", {"headers": TRUSTED}, 404, "not_found"),
    ("cancel without a key", "/otp/abcdef/cancel", {}, 401, "unauthorized"),
    (
        "a wrong key",
        "/otp/request",
        {"json": {"phone": "+8613800138000"}, "headers": {"Authorization": "Bearer wrong"}},
        401,
        "unauthorized",
    ),
    (
        "a key in another scheme",
        "/otp/request",
        {"json": {"phone": "+8613800138000"}, "headers": {"Authorization": "Basic eDp5"}},
        401,
        "unauthorized",
    ),
    (
        "verify by destination without a key",
        "/otp/verify",
        {"json": {"phone": "+8613800138000", "code": "123456"}},
        401,
        "unauthorized",
    ),
    (
        "json nested eight thousand deep",
        "/otp/request",
        {"data": "[" * 8000 + "]" * 8000, "content_type": "application/json"},
        400,
        "validation_error",
    ),
    (
        "an object nested a thousand deep",
        "/otp/verify",
        {"data": '{"a":' * 1000 + "1" + "}" * 1000, "content_type": "application/json"},
        400,
        "validation_error",
    ),
    (
        "code with a trailing newline",
        "/otp/verify",
        {"json": {"id": "a" * 30, "code": "123456\n"}},
        400,
        "validation_error",
    ),
    (
        "purpose with a trailing newline",
        "/otp/request",
        {"json": {"phone": "+8613800138000", "purpose": "login\n"}},
        400,
        "validation_error",
    ),
    (
        "phone with a trailing newline",
        "/otp/request",
        {"json": {"phone": "+8613800138000\n"}},
        400,
        "validation_error",
    ),
    (
        "country with a trailing newline",
        "/otp/request",
        {"json": {"phone": "13800138000", "country": "CN\n"}},
        400,
        "validation_error",
    ),
    (
        "an idempotency key with a space",
        "/otp/request",
        {"json": {"phone": "+8613800138000"}, "headers": {"Idempotency-Key": "a b"}},
        400,
        "validation_error",
    ),
    (
        "an idempotency key of 256 characters",
        "/otp/request",
        {"json": {"phone": "+8613800138000"}, "headers": {"Idempotency-Key": "k" * 256}},
        400,
        "validation_error",
    ),
]


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_the_envelope(
    client: FlaskClient, path: str, kwargs: dict[str, object], status: int, code: str
) -> None:
    response = client.post(path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)


def test_field_errors_name_the_field(client: FlaskClient) -> None:
    response = client.post("/otp/request", json={"phone": 5, "channel": "fax"})
    fields = response.get_json()["error"]["details"]["fields"]
    assert set(fields) == {"phone", "channel"}


def test_premium_rate_names_the_type(client: FlaskClient) -> None:
    response = client.post("/otp/request", json={"phone": "+19005551234"})
    assert response.get_json()["error"]["details"] == {"type": "premium_rate"}


def test_nothing_stored_for_refused_numbers(client: FlaskClient, redis_client: object) -> None:
    client.post("/otp/request", json={"phone": "+19005551234"})
    assert redis_client.keys("otp:{*") == []  # type: ignore[attr-defined]


def test_unknown_route_and_wrong_method(client: FlaskClient) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    response = client.put("/otp/verify", json={})
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
