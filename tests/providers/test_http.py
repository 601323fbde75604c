"""HttpProvider driven through its own urllib code against a stand-in of the user's service."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from app.delivery.providers.base import (
    CallbackRequest,
    FailureClass,
    Message,
    ProviderContext,
    Receipt,
    ReceiptRejected,
)
from app.delivery.providers.http import HttpProvider

from . import standins
from .standins import CONTEXT, config_error_key, expect_failure, sent_request, stalled

SECRET = "shared-secret"
PATH = "/otp/deliver"


def provider(httpserver: HTTPServer, **extra: Any) -> HttpProvider:
    settings = {"url": httpserver.url_for(PATH), "secret": SECRET, **extra}
    context = ProviderContext(send_timeout=2.0)
    return HttpProvider.from_settings("own", frozenset({"sms", "telegram"}), settings, context)


def message(**overrides: Any) -> Message:
    return standins.message(**{"channel": "telegram", **overrides})


def sign(timestamp: str, body: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def answer(httpserver: HTTPServer, body: Any, status: int = 200) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(body, status=status)


def test_success_is_signed_and_returns_the_service_id(httpserver: HTTPServer) -> None:
    answer(httpserver, {"message_id": "m-42"})
    assert provider(httpserver).send(message()).message_id == "m-42"
    request = sent_request(httpserver)
    body = request.get_data()
    assert body == (
        b'{"id":"v-1","to":"+14155552671","channel":"telegram","purpose":"login",'
        b'"locale":"en","code":"123456","text":"Your code is 123456","ttl_minutes":10,'
        b'"sender":null}'
    )
    timestamp = request.headers["X-OTP-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert request.headers["X-OTP-Signature"] == sign(timestamp, body)
    assert request.headers["Content-Type"] == "application/json"


def test_missing_message_id_gets_a_generated_one(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=204)
    assert provider(httpserver).send(message(sender="+15005550006")).message_id.startswith("http-")
    assert json.loads(sent_request(httpserver).get_data())["sender"] == "+15005550006"


@pytest.mark.parametrize(
    ("status", "body", "failure", "code"),
    [
        (500, {"error": {"class": "permanent"}}, FailureClass.TRANSIENT, "500"),
        (503, "busy", FailureClass.TRANSIENT, "503"),
        (429, {"error": {"class": "permanent"}}, FailureClass.TRANSIENT, "429"),
        (
            400,
            {"error": {"class": "permanent", "code": "bad_number"}},
            FailureClass.PERMANENT,
            "bad_number",
        ),
        (422, {"error": {"class": "route", "code": 7}}, FailureClass.ROUTE, "7"),
        (400, {"error": {"class": "nonsense"}}, FailureClass.ROUTE, "400"),
        (404, "not found", FailureClass.ROUTE, "404"),
        (302, "moved", FailureClass.ROUTE, "302"),
    ],
)
def test_failures_are_classified(
    httpserver: HTTPServer, status: int, body: Any, failure: FailureClass, code: str
) -> None:
    answer(httpserver, body, status)
    error = expect_failure(provider(httpserver), message(), httpserver)
    assert (error.failure, error.provider_code) == (failure, code)


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    with stalled(httpserver, PATH, Response("{}", content_type="application/json")) as stall:
        error = expect_failure(provider(httpserver, timeout=0.2), message())
    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the settings override won over the 2 s default


def test_connection_refused_is_transient() -> None:
    settings = {"url": "http://127.0.0.1:1/deliver", "secret": SECRET}
    context = ProviderContext(send_timeout=1.0)
    unreachable = HttpProvider.from_settings("own", frozenset({"sms"}), settings, context)
    assert expect_failure(unreachable, message()).failure is FailureClass.TRANSIENT


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"secret": SECRET}, "url"),
        ({"url": "ftp://example.com/x", "secret": SECRET}, "url"),
        ({"url": "https://example.com/x"}, "secret"),
        ({"url": "https://example.com/x", "secret": SECRET, "timeout": 0}, "timeout"),
        ({"url": "https://example.com/x", "secret": SECRET, "timeout": "5"}, "timeout"),
    ],
)
def test_bad_setting_names_the_key(settings: dict[str, Any], key: str) -> None:
    sms = frozenset({"sms"})
    assert config_error_key(HttpProvider.from_settings, "own", sms, settings, CONTEXT) == key


def receipt(body: bytes, timestamp: str, signature: str) -> CallbackRequest:
    headers = {"X-Otp-Timestamp": timestamp, "X-Otp-Signature": signature}
    return CallbackRequest(url="https://otp.example.com/r", headers=headers, form={}, body=body)


def test_signed_receipt_is_accepted(httpserver: HTTPServer) -> None:
    body = b'{"message_id":"m-42","status":"undelivered","code":"absent"}'
    now = str(int(time.time()))
    receipts = provider(httpserver).parse_receipts(receipt(body, now, sign(now, body)))
    assert receipts == [Receipt(message_id="m-42", status="undelivered", provider_code="absent")]


def test_signed_receipt_list_is_accepted(httpserver: HTTPServer) -> None:
    body = b'[{"message_id":"a","status":"delivered"},{"message_id":"b","status":"failed"}]'
    now = str(int(time.time()))
    receipts = provider(httpserver).parse_receipts(receipt(body, now, sign(now, body)))
    assert [(r.message_id, r.status) for r in receipts] == [("a", "delivered"), ("b", "failed")]


def test_forged_receipt_is_rejected(httpserver: HTTPServer) -> None:
    body = b'{"message_id":"m-42","status":"delivered"}'
    now = str(int(time.time()))
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(receipt(body, now, sign(now, body, "other-secret")))


def test_stale_receipt_is_rejected(httpserver: HTTPServer) -> None:
    body = b'{"message_id":"m-42","status":"delivered"}'
    old = str(int(time.time()) - 301)
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(receipt(body, old, sign(old, body)))


def test_signed_but_malformed_receipt_is_rejected(httpserver: HTTPServer) -> None:
    body = b'{"message_id":"m-42","status":"sent"}'
    now = str(int(time.time()))
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(receipt(body, now, sign(now, body)))
