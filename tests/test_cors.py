"""Browser origins: CORS headers only for the origins in OTP_CORS_ORIGINS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from app import settings
from app.settings import SettingsError

from .conftest import TRUSTED

LOGIN = "https://login.example.com"
PREFLIGHT = {
    "Origin": LOGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, idempotency-key",
}


@pytest.fixture
def cors_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(OTP_CORS_ORIGINS=f"{LOGIN},https://app.example.com", OTP_CORS_MAX_AGE="900")


def test_no_origins_no_cors_headers(app: Flask) -> None:
    client = app.test_client()
    answer = client.options("/otp/request", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in answer.headers
    sent = client.post("/otp/request", json={"phone": "+8613800138000"}, headers={"Origin": LOGIN})
    assert not [name for name, _ in sent.headers if name.startswith("Access-Control")]


def test_preflight_of_an_allowed_origin(cors_app: Flask) -> None:
    answer = cors_app.test_client().options("/otp/request", headers=PREFLIGHT)
    assert answer.status_code == 204
    assert answer.data == b""
    assert answer.headers["Access-Control-Allow-Origin"] == LOGIN
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, POST"
    allowed = answer.headers["Access-Control-Allow-Headers"].lower().split(", ")
    assert set(allowed) == {"content-type", "idempotency-key"}
    assert answer.headers["Access-Control-Max-Age"] == "900"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert "Origin" in answer.headers["Vary"]


def test_answers_to_an_allowed_origin_expose_the_headers_a_page_needs(cors_app: Flask) -> None:
    client = cors_app.test_client()
    sent = client.post("/otp/request", json={"phone": "+8613800138000"}, headers={"Origin": LOGIN})
    assert sent.status_code == 202
    assert sent.headers["Access-Control-Allow-Origin"] == LOGIN
    exposed = {h.strip() for h in sent.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Retry-After", "X-Request-ID", "Idempotent-Replayed", "RateLimit-Remaining"} <= exposed
    again = client.post("/otp/request", json={"phone": "+8613800138000"}, headers={"Origin": LOGIN})
    assert again.status_code == 429  # an error answer is readable by the page too
    assert again.headers["Access-Control-Allow-Origin"] == LOGIN
    wrong_key = client.get(
        "/otp/abc", headers={"Origin": LOGIN, "Authorization": "Bearer not-a-key"}
    )
    assert wrong_key.status_code == 401
    assert wrong_key.headers["Access-Control-Allow-Origin"] == LOGIN


def test_a_disallowed_origin_gets_no_allow_origin(cors_app: Flask) -> None:
    client = cors_app.test_client()
    other = {**PREFLIGHT, "Origin": "https://evil.example.net"}
    assert (
        "Access-Control-Allow-Origin" not in client.options("/otp/request", headers=other).headers
    )
    sent = client.post(
        "/otp/request",
        json={"phone": "+8613800138000"},
        headers={"Origin": "https://login.example.com.evil.net"},
    )
    assert "Access-Control-Allow-Origin" not in sent.headers
    # Server-to-server paths are not for pages at all.
    status = client.get("/metrics", headers={"Origin": LOGIN, **TRUSTED})
    assert "Access-Control-Allow-Origin" not in status.headers


def test_wildcard_with_credentials_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError, match="OTP_CORS_ORIGINS"):
        settings.load(
            {"OTP_ENV": "development", "OTP_CORS_ORIGINS": "*", "OTP_CORS_CREDENTIALS": "true"}
        )


@pytest.mark.parametrize("origins", ["login.example.com", "https://x.com/path", "ftp://x.com"])
def test_an_origin_must_be_scheme_host_and_port(origins: str) -> None:
    with pytest.raises(SettingsError, match="OTP_CORS_ORIGINS"):
        settings.load({"OTP_ENV": "development", "OTP_CORS_ORIGINS": origins})
