"""A provider refusing a recipient for now (too many messages to it): the plan stops, the
answer is 429 with Retry-After, and the provider's circuits never hear of it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

from app.delivery.health import breaker_key

from .conftest import TRUSTED
from .providers.test_tencent import send_status, tc3_signature_ok

TENCENT_KEY = "tencent-secret-key-0123456789"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcd"
TWILIO_SID = "AC" + "0" * 32
ROUTING = """
providers:
  tencent:
    type: tencent
    settings:
      secret_id: ${TC_SECRET_ID}
      secret_key: ${TC_SECRET_KEY}
      sdk_app_id: "1400006666"
      sign_name: Acme
      templates: {login: "449739"}
      endpoint: "http://127.0.0.1:%(port)d"
  second: {type: http, channels: [sms], settings: {url: "%(base)s/second", secret: "${GW_SECRET}"}}
  twilio:
    type: twilio
    channels: [sms]
    settings:
      account_sid: %(sid)s
      auth_token: ${TWILIO_TOKEN}
      from_number: "+15005550006"
      base_url: "%(base)s/twilio"
scheduling:
  countries:
    CN:
      resources: [{provider: tencent, priority: 1}, {provider: second, priority: 2}]
    US:
      resources: [{provider: twilio}]
"""


ENV = {
    "TC_SECRET_ID": "AKIDtestSecretId",
    "TC_SECRET_KEY": TENCENT_KEY,
    "GW_SECRET": "gateway-secret-0123456789abcdef",
    "TWILIO_TOKEN": TWILIO_TOKEN,
}


@pytest.fixture
def routed(routed_app: Callable[..., Flask], httpserver: HTTPServer) -> Flask:
    base = httpserver.url_for("").rstrip("/")
    return routed_app(ROUTING % {"base": base, "port": httpserver.port, "sid": TWILIO_SID}, ENV)


def tencent_answers(httpserver: HTTPServer, code: str) -> None:
    """Tencent's SendSms, answering every correctly signed request with this status code."""

    def handler(request: Request) -> Response:
        assert tc3_signature_ok(request, TENCENT_KEY)
        body = json.dumps(send_status(code, "frequency limit"))
        return Response(body, content_type="application/json; charset=utf-8")

    httpserver.expect_request("/", method="POST").respond_with_handler(handler)


def paths(httpserver: HTTPServer) -> list[str]:
    return [request.path for request, _ in httpserver.log]


@pytest.mark.parametrize(
    ("code", "retry_after"),
    [
        ("LimitExceeded.PhoneNumberOneHourLimit", "3600"),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", "30"),
        ("LimitExceeded.DeliveryFrequencyLimit", "60"),  # no window named: Tencent's default
    ],
)
def test_a_throttled_recipient_is_answered_429_and_the_plan_stops(
    routed: Flask, httpserver: HTTPServer, code: str, retry_after: str
) -> None:
    tencent_answers(httpserver, code)
    client = routed.test_client()

    response = client.post("/otp/request", json={"phone": "+8613800138000"})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == retry_after
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["reason"] == "provider_recipient_limit"
    assert error["details"]["attempts"] == [
        {
            "provider": "tencent",
            "outcome": "failed",
            "error_class": "recipient_throttled",
            "error_code": code,
        }
    ]
    assert paths(httpserver) == ["/"]  # the next step's gateway received nothing
    shown = client.get(f"/otp/{error['details']['id']}", headers=TRUSTED).get_json()
    assert [(a["provider"], a["error_class"]) for a in shown["attempts"]] == [
        ("tencent", "recipient_throttled")
    ]


def test_throttles_never_count_against_the_circuit(routed: Flask, httpserver: HTTPServer) -> None:
    tencent_answers(httpserver, "LimitExceeded.PhoneNumberDailyLimit")
    client = routed.test_client()

    for n in range(20):
        response = client.post("/otp/request", json={"phone": f"+86138001380{n:02d}"})
        assert response.status_code == 429

    services = routed.extensions["otp"]
    for scope in (None, "CN"):
        assert services.health.states("tencent", scope) == "closed"
        failures = services.redis.hget(breaker_key("tencent", scope), "wf")
        assert int(failures or 0) == 0
    assert services.router.plan("CN", "sms", "next").steps[0].provider == "tencent"
    assert "/second" not in paths(httpserver)


def test_a_throttled_receipt_does_not_count_against_the_circuit(
    routed: Flask, httpserver: HTTPServer
) -> None:
    sid = "SM" + "1" * 32
    httpserver.expect_request(
        f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    ).respond_with_json({"sid": sid, "status": "queued"}, status=201)
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": "+12015550123"})
    assert started.status_code == 202

    url = "http://localhost/otp/callbacks/twilio"
    form = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "14107"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    answer = client.post(
        "/otp/callbacks/twilio", data=form, headers={"X-Twilio-Signature": signature}
    )

    assert answer.status_code == 204
    shown = client.get(f"/otp/{started.get_json()['id']}", headers=TRUSTED).get_json()
    assert shown["attempts"][0]["delivery"] == {"status": "failed", "code": "14107"}
    breaker = routed.extensions["otp"].redis.hgetall(breaker_key("twilio", "US"))
    assert int(breaker.get(b"wf") or 0) == 0
