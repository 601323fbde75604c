"""End to end through the app: WhatsApp through Chat App Message Service with its SMS fallback,
Tencent Cloud voice codes, SMS receipts from Alibaba and Tencent Cloud, and a BlueKing CMSI
gateway for SMS, voice and e-mail, each against a stand-in that checks what the real one does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.health import breaker_key

from .conftest import TRUSTED
from .providers.signatures import acs3_signature_ok, tc3_signature_ok

BRAZIL, CHINA, HONG_KONG = "+5511987654321", "+8613800138000", "+85291234567"
SECRETS = {
    "CAMS_SECRET": "cams-key-secret",
    "ALI_SECRET": "dysms-key-secret",
    "TC_SECRET_ID": "AKIDtestSecretId",
    "TC_SECRET": "tencent-secret-key",
    "SMS_GW_SECRET": "sms-gateway-secret-0123456789",
    "CAMS_TOKEN": "cams-receipt-token-0123456789",
    "ALI_TOKEN": "aliyun-report-token-0123456789",
    "TC_TOKEN": "tencent-callback-token-0123456789",
    "BK_SECRET": "bk-app-secret-0123456789",
}
ROUTING = """
providers:
  wa:
    type: cams
    settings:
      access_key_id: LTAI5tCamsKeyId
      access_key_secret: ${CAMS_SECRET}
      from_number: "8613600000000"
      endpoint: "%(base)s"
      templates: {login: {en: 744c4b5c79c9432497a075bdfca36bf5}}
      fallback_id: S00001
      callback_token: ${CAMS_TOKEN}
  ali:
    type: aliyun
    settings:
      access_key_id: LTAI5tDysmsKeyId
      access_key_secret: ${ALI_SECRET}
      sign_name: 阿里云短信测试
      templates: {login: SMS_154950909}
      endpoint: "%(base)s"
      callback_token: ${ALI_TOKEN}
  tc:
    type: tencent
    settings:
      secret_id: ${TC_SECRET_ID}
      secret_key: ${TC_SECRET}
      sdk_app_id: 1400006666
      sign_name: Tencent BlueKing
      templates: {login: "449739"}
      endpoint: "%(base)s"
      callback_token: ${TC_TOKEN}
  tv:
    type: tencent_voice
    settings:
      secret_id: ${TC_SECRET_ID}
      secret_key: ${TC_SECRET}
      voice_sdk_app_id: 1400006666
      endpoint: "%(base)s"
  sms_gw:
    type: http
    channels: [sms]
    settings: {url: "%(base)s/sms", secret: "${SMS_GW_SECRET}"}
scheduling:
  countries:
    BR: {resources: [{provider: wa}, {provider: sms_gw}]}
    CN: {resources: [{provider: ali}, {provider: tv}]}
    HK: {resources: [{provider: tc}]}
own_numbers:
  default: [{provider: sms_gw}]
channel_fallbacks: {whatsapp: sms}
"""
CMSI_ROUTING = """
providers:
  bk:
    type: cmsi
    channels: [sms, voice, email]
    settings:
      base_url: "%(base)s"
      bk_app_code: otp-service
      bk_app_secret: ${BK_SECRET}
      bk_username: admin
      sms_signature: Tencent BlueKing
own_numbers:
  default: [{provider: bk}]
"""
CAMS_MESSAGE_ID = "2023078469463703000003"
BIZ_ID = "900619746936498440^0"
SERIAL_NO = "5000:1045710669157053657849499619"
ANSWERS: dict[str, Any] = {
    "acs SendChatappMessage": {"Code": "OK", "MessageId": CAMS_MESSAGE_ID, "RequestId": "R1"},
    "acs SendSms": {"Code": "OK", "Message": "OK", "BizId": BIZ_ID, "RequestId": "R2"},
    "tc SendSms": {
        "Response": {
            "SendStatusSet": [{"SerialNo": SERIAL_NO, "Code": "Ok", "Message": "send success"}],
            "RequestId": "R3",
        }
    },
    "tc SendCodeVoice": {"Response": {"SendStatus": {"CallId": "call-1"}, "RequestId": "R4"}},
}
KEY_SECRETS = {
    "acs SendChatappMessage": SECRETS["CAMS_SECRET"],
    "acs SendSms": SECRETS["ALI_SECRET"],
    "tc SendSms": SECRETS["TC_SECRET"],
    "tc SendCodeVoice": SECRETS["TC_SECRET"],
}


class Clouds:
    """Alibaba Cloud's and Tencent Cloud's APIs at one address: each request's signature is
    checked with its provider's secret, the request kept, and the action answered."""

    def __init__(self) -> None:
        self.requests: dict[str, Request] = {}
        self.answers = dict(ANSWERS)

    def __call__(self, request: Request) -> Response:
        if "x-acs-action" in request.headers:
            action = f"acs {request.headers['x-acs-action']}"
            assert acs3_signature_ok(request, KEY_SECRETS[action])
        else:
            action = f"tc {request.headers['X-TC-Action']}"
            assert tc3_signature_ok(request, KEY_SECRETS[action])
        self.requests[action] = request
        return Response(json.dumps(self.answers[action]), content_type="application/json")

    def code(self, action: str) -> str:
        """The one-time code the last request of `action` carried, where its API takes it."""
        request = self.requests[action]
        if action == "acs SendChatappMessage":
            return str(json.loads(request.args["TemplateParams"])["code"])
        if action == "acs SendSms":
            return str(json.loads(request.args["TemplateParam"])["code"])
        body = json.loads(request.get_data())
        return str(
            body["CodeMessage"] if action == "tc SendCodeVoice" else body["TemplateParamSet"][0]
        )


@pytest.fixture
def clouds(httpserver: HTTPServer) -> Clouds:
    stand_in = Clouds()
    httpserver.expect_request("/", method="POST").respond_with_handler(stand_in)
    return stand_in


def app_for(
    make_app: Callable[..., Flask], routing: str, server: HTTPServer, tmp_path: Path
) -> Flask:
    path = tmp_path / "routing.yaml"
    path.write_text(routing % {"base": f"http://127.0.0.1:{server.port}"})
    return make_app(OTP_ROUTING_FILE=str(path), OTP_RESEND_COOLDOWN="0")


@pytest.fixture
def client(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FlaskClient:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return app_for(make_app, ROUTING, httpserver, tmp_path).test_client()


def request_code(client: FlaskClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/otp/request", json=body)
    assert answer.status_code == 202, answer.get_json()
    started: dict[str, Any] = answer.get_json()
    return started


def verified(client: FlaskClient, verification_id: str, code: str) -> bool:
    answer = client.post("/otp/verify", json={"id": verification_id, "code": code})
    return answer.status_code == 200 and answer.get_json()["status"] == "approved"


def attempts(client: FlaskClient, verification_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/otp/{verification_id}", headers=TRUSTED).get_json()[
        "attempts"
    ]
    return found


def test_whatsapp_template_delivers_and_its_code_verifies(
    client: FlaskClient, clouds: Clouds
) -> None:
    started = request_code(client, phone=BRAZIL, channel="whatsapp")

    assert started["route"]["provider"] == "wa"
    request = clouds.requests["acs SendChatappMessage"]
    assert (request.args["Type"], request.args["TemplateCode"]) == (
        "template",
        "744c4b5c79c9432497a075bdfca36bf5",
    )
    code = clouds.code("acs SendChatappMessage")
    assert code in request.args["FallBackContent"]  # the armed SMS fallback says the same
    [attempt] = attempts(client, started["id"])
    assert (attempt["message_id"], attempt["fallback"]) == (CAMS_MESSAGE_ID, "sms")
    assert verified(client, started["id"], code)


def test_whatsapp_failing_falls_back_to_sms(
    client: FlaskClient, clouds: Clouds, httpserver: HTTPServer
) -> None:
    refused = {"Code": "InvalidParameter.LanguageNotSupport", "Message": "no", "RequestId": "R"}
    clouds.answers["acs SendChatappMessage"] = refused
    httpserver.expect_request("/sms", method="POST").respond_with_json({"message_id": "gw-1"})

    started = request_code(client, phone=BRAZIL, channel="whatsapp")

    assert (started["route"]["provider"], started["route"]["channel"]) == ("sms_gw", "sms")
    tried = [(a["provider"], a["channel"], a["outcome"]) for a in attempts(client, started["id"])]
    assert tried == [("wa", "whatsapp", "failed"), ("sms_gw", "sms", "sent")]
    sms = next(req for req, _ in httpserver.log if req.path == "/sms")
    assert verified(client, started["id"], json.loads(sms.get_data())["code"])


def test_tencent_voice_call_delivers_and_its_code_verifies(
    client: FlaskClient, clouds: Clouds
) -> None:
    started = request_code(client, phone=CHINA, channel="voice")

    assert started["route"]["provider"] == "tv"
    assert json.loads(clouds.requests["tc SendCodeVoice"].get_data())["CalledNumber"] == CHINA
    assert verified(client, started["id"], clouds.code("tc SendCodeVoice"))


def push(client: FlaskClient, provider: str, token: str, reports: list[dict[str, Any]]) -> Any:
    url = f"/otp/callbacks/{provider}?token={token}"
    return client.post(url, data=json.dumps(reports), content_type="application/json")


def breaker_failures(client: FlaskClient, key: str) -> bytes | None:
    app = client.application
    found: bytes | None = app.extensions["otp"].redis.hget(key, "wf")
    return found


@pytest.mark.parametrize(
    ("provider", "phone", "token", "report", "answer", "delivery"),
    [
        (
            "ali",
            CHINA,
            "ALI_TOKEN",
            {"biz_id": BIZ_ID, "success": False, "err_code": "MK:0001", "err_msg": "失败"},
            {"code": 0, "msg": "接收成功"},
            {"status": "undelivered", "code": "MK:0001"},
        ),
        (
            "tc",
            HONG_KONG,
            "TC_TOKEN",
            {"sid": SERIAL_NO, "report_status": "FAIL", "errmsg": "MN:0001", "mobile": "91234567"},
            {"result": 0, "errmsg": "OK"},
            {"status": "undelivered", "code": "MN:0001"},
        ),
    ],
    ids=["alibaba", "tencent"],
)
def test_sms_receipts_update_the_attempt_and_the_breaker(
    client: FlaskClient,
    clouds: Clouds,
    provider: str,
    phone: str,
    token: str,
    report: dict[str, Any],
    answer: dict[str, Any],
    delivery: dict[str, Any],
) -> None:
    started = request_code(client, phone=phone)
    country = "CN" if phone == CHINA else "HK"
    breaker = breaker_key(provider, country)

    forged = push(client, provider, "forged-token-0123456789", [report])
    assert forged.status_code == 403
    assert "delivery" not in attempts(client, started["id"])[0]
    assert breaker_failures(client, breaker) == b"0"  # the send itself succeeded

    taken = push(client, provider, SECRETS[token], [report])
    assert (taken.status_code, taken.get_json()) == (200, answer)
    assert attempts(client, started["id"])[0]["delivery"] == delivery
    assert breaker_failures(client, breaker) == b"1"  # counted against the provider there


def test_cams_status_push_is_answered_in_alibabas_form(client: FlaskClient, clouds: Clouds) -> None:
    started = request_code(client, phone=BRAZIL, channel="whatsapp")
    failed = {"Status": "Failed", "MessageId": CAMS_MESSAGE_ID, "ErrorCode": "131026"}

    assert push(client, "wa", "forged-token-0123456789", [failed]).status_code == 403
    taken = push(client, "wa", SECRETS["CAMS_TOKEN"], [failed])

    assert (taken.status_code, taken.get_json()) == (200, {"code": 0, "msg": "接收成功"})
    delivery = attempts(client, started["id"])[0]["delivery"]
    assert delivery == {"status": "failed", "code": "131026"}


class Gateway:
    """A BlueKing ESB's CMSI components: each call must carry the app's credentials."""

    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        assert (body["bk_app_code"], body["bk_app_secret"]) == ("otp-service", SECRETS["BK_SECRET"])
        assert body["bk_username"] == "admin"
        self.bodies[request.path.rstrip("/").rpartition("/")[2]] = body
        answer = {"result": True, "code": 0, "message": "OK"}
        return Response(json.dumps(answer), content_type="application/json")


@pytest.mark.parametrize(
    ("request_body", "component", "field"),
    [
        ({"phone": CHINA}, "send_sms", "content"),
        ({"phone": CHINA, "channel": "voice"}, "send_voice_msg", "auto_read_message"),
        ({"email": "alice@example.com", "channel": "email"}, "send_mail", "content"),
    ],
    ids=["sms", "voice", "mail"],
)
def test_cmsi_gateway_delivers_and_the_code_verifies(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request_body: dict[str, Any],
    component: str,
    field: str,
) -> None:
    monkeypatch.setenv("BK_SECRET", SECRETS["BK_SECRET"])
    gateway = Gateway()
    httpserver.expect_request(f"/api/c/compapi/cmsi/{component}/").respond_with_handler(gateway)
    client = app_for(make_app, CMSI_ROUTING, httpserver, tmp_path).test_client()

    started = request_code(client, **request_body)

    httpserver.check_assertions()
    said = gateway.bodies[component][field].replace(" ", "")  # voice spaces out the digits
    code = max(re.findall(r"\d+", said), key=len)
    assert verified(client, started["id"], code)
