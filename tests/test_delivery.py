"""Dispatch end to end: failover between real adapters, failure classes, adapter bugs, receipts."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

from app.delivery.health import breaker_key
from app.delivery.providers.base import Message, SendResult

from .conftest import TRUSTED

PHONE = "+4915123456789"
SECRET = "gateway-secret-0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcd"

ROUTING = """
providers:
  first: {type: http, channels: [sms], settings: {url: "%(base)s/first", secret: "${GW_SECRET}"}}
  second: {type: http, channels: [sms], settings: {url: "%(base)s/second", secret: "${GW_SECRET}"}}
  twilio:
    type: twilio
    channels: [sms]
    settings:
      account_sid: AC00000000000000000000000000000000
      auth_token: ${TWILIO_TOKEN}
      from_number: "+15005550006"
      base_url: "%(base)s/twilio"
scheduling:
  countries:
    DE:
      resources: [{provider: first, priority: 1}, {provider: second, priority: 2}]
    US:
      resources: [{provider: twilio}]
own_numbers:
  default: [{provider: second}]
"""


@pytest.fixture
def routed(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Flask:
    monkeypatch.setenv("GW_SECRET", SECRET)
    monkeypatch.setenv("TWILIO_TOKEN", TWILIO_TOKEN)
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING % {"base": httpserver.url_for("").rstrip("/")})
    return make_app(OTP_ROUTING_FILE=str(path), OTP_RESEND_COOLDOWN="0")


def answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def received_code(httpserver: HTTPServer, path: str) -> str:
    bodies = [json.loads(req.data) for req, _ in httpserver.log if req.path == path]
    assert bodies, f"nothing reached {path}"
    return str(bodies[-1]["code"])


def test_failover_to_a_working_provider_then_verify(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/first").respond_with_response(answer(503, {}))
    httpserver.expect_request("/second").respond_with_response(answer(200, {"message_id": "m-2"}))
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    assert started["route"] == {
        "provider": "second",
        "own_numbers": False,
        "channel": "sms",
        "attempts": 2,
    }
    code = received_code(httpserver, "/second")
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 200
    attempts = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"]
    assert [(a["provider"], a["outcome"], a["error_class"]) for a in attempts] == [
        ("first", "failed", "transient"),
        ("second", "sent", ""),
    ]


def test_route_failure_moves_on(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/first").respond_with_response(
        answer(400, {"error": {"class": "route", "code": "NO_COVERAGE"}})
    )
    httpserver.expect_request("/second").respond_with_response(answer(200, {"message_id": "m"}))
    started = routed.test_client().post("/otp/request", json={"phone": PHONE}).get_json()
    assert started["route"]["provider"] == "second"


def test_permanent_failure_stops_the_plan(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/first").respond_with_response(
        answer(400, {"error": {"class": "permanent", "code": "OPTED_OUT"}})
    )
    client = routed.test_client()
    response = client.post("/otp/request", json={"phone": PHONE})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "delivery_failed"
    assert error["details"]["reason"] == "permanent"
    assert error["details"]["attempts"] == [
        {
            "provider": "first",
            "outcome": "failed",
            "error_class": "permanent",
            "error_code": "OPTED_OUT",
        }
    ]
    assert not [req for req, _ in httpserver.log if req.path == "/second"]  # not paid for
    status = client.get(f"/otp/{error['details']['id']}", headers=TRUSTED).get_json()
    assert status["status"] == "failed"


def test_every_step_failing_is_a_502(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/first").respond_with_response(answer(500, {}))
    httpserver.expect_request("/second").respond_with_response(answer(429, {}))
    response = routed.test_client().post("/otp/request", json={"phone": PHONE})
    assert response.status_code == 502
    assert response.get_json()["error"]["details"]["reason"] == "exhausted"


class BuggyProvider:
    """An adapter with a bug: it raises something that is not a provider error."""

    name = "first"
    channels = frozenset({"sms"})

    def send(self, message: Message) -> SendResult:
        raise KeyError("oops")


def test_a_bug_in_an_adapter_surfaces(
    routed: Flask, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    routed.extensions["otp"].providers["first"] = BuggyProvider()
    with caplog.at_level(logging.ERROR):
        response = routed.test_client().post("/otp/request", json={"phone": PHONE})
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "delivery_failed"
    assert error["details"]["reason"] == "error"
    assert not [req for req, _ in httpserver.log if req.path == "/second"]  # no silent failover
    assert any(record.exc_info and "oops" in str(record.exc_info[1]) for record in caplog.records)


def twilio_message(request: Request) -> Response:
    return answer(201, {"sid": "SM" + "1" * 32, "status": "queued"})


def twilio_receipt(status: str, sid: str, url: str) -> tuple[dict[str, str], dict[str, str]]:
    form = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": "30003"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    return form, {"X-Twilio-Signature": signature}


def test_twilio_receipts(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
    ).respond_with_handler(twilio_message)
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": "+12015550123"}).get_json()
    sid = "SM" + "1" * 32
    url = "http://localhost/otp/callbacks/twilio"

    form, headers = twilio_receipt("undelivered", sid, url)
    forged = client.post("/otp/callbacks/twilio", data=form, headers={"X-Twilio-Signature": "x"})
    assert forged.status_code == 403
    assert (
        "delivery"
        not in client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"][0]
    )

    for _ in range(2):  # a duplicate is harmless
        answer = client.post("/otp/callbacks/twilio", data=form, headers=headers)
        assert (answer.status_code, answer.data) == (204, b"")  # Twilio reads no body
    attempt = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"][0]
    assert attempt["delivery"] == {"status": "undelivered", "code": "30003"}
    breaker = routed.extensions["otp"].redis.hgetall(breaker_key("twilio", "US"))
    assert breaker[b"wf"] == b"1"  # the failed report counted once against twilio in the US

    unknown, unknown_headers = twilio_receipt("delivered", "SM" + "9" * 32, url)
    response = client.post("/otp/callbacks/twilio", data=unknown, headers=unknown_headers)
    assert response.status_code == 204


def test_http_provider_receipts(routed: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/first").respond_with_response(answer(200, {"message_id": "gw-1"}))
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    body = json.dumps({"message_id": "gw-1", "status": "delivered"}).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "X-OTP-Timestamp": timestamp,
        "X-OTP-Signature": "v1=" + digest.hexdigest(),
        "Content-Type": "application/json",
    }
    response = client.post("/otp/callbacks/first", data=body, headers=headers)
    assert response.get_json() == {"accepted": 1}
    attempt = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"][0]
    assert attempt["delivery"] == {"status": "delivered", "code": None}
    headers["X-OTP-Signature"] = "v1=" + "0" * 64
    assert client.post("/otp/callbacks/first", data=body, headers=headers).status_code == 403


def test_receipts_for_an_unknown_provider(routed: Flask) -> None:
    response = routed.test_client().post("/otp/callbacks/nobody", data={})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
