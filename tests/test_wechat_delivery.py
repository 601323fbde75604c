"""The wechat channel end to end: WeCom members by phone (SMS for the others), Official Account
followers by openid, and WhatsApp templates through Twilio, each against its local stand-in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app.routing_file import RoutingError

from .conftest import TRUSTED
from .providers.wechat_standins import (
    AGENT_ID,
    APP_ID,
    APP_SECRET,
    CORP_ID,
    CORP_SECRET,
    OPENID,
    TEMPLATE_ID,
    MpStandIn,
    WecomStandIn,
)

MEMBER, STRANGER = "+8613800138000", "+8613900139000"
GATEWAY_SECRET = "gateway-secret-0123456789abcdef"

ROUTING = """
channels: [sms, wechat]
providers:
  wecom:
    type: wecom
    settings:
      corp_id: %(corp_id)s
      corp_secret: ${WECOM_SECRET}
      agent_id: %(agent_id)s
      base_url: "%(base)s"
  official:
    type: wechat_mp
    settings:
      app_id: %(app_id)s
      app_secret: ${MP_SECRET}
      templates: {login: %(template)s}
      template_fields: {code: character_string1, minutes: number2, app: thing3}
      app_name: Acme
      base_url: "%(base)s"
  gateway: {type: http, channels: [sms], settings: {url: "%(base)s/sms", secret: "${GW_SECRET}"}}
scheduling:
  countries:
    CN:
      resources: [{provider: wecom}, {provider: gateway}]
      use_own_numbers: false
own_numbers:
  default: [{provider: official}, {provider: gateway}]
channel_fallbacks: {wechat: sms}
"""


@pytest.fixture
def routing_file(httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in [
        ("WECOM_SECRET", CORP_SECRET),
        ("MP_SECRET", APP_SECRET),
        ("GW_SECRET", GATEWAY_SECRET),
    ]:
        monkeypatch.setenv(name, value)
    path = tmp_path / "routing.yaml"
    path.write_text(
        ROUTING
        % {
            "base": httpserver.url_for("").rstrip("/"),
            "corp_id": CORP_ID,
            "agent_id": AGENT_ID,
            "app_id": APP_ID,
            "template": TEMPLATE_ID,
        }
    )
    return path


@pytest.fixture
def wechat_app(make_app: Callable[..., Flask], routing_file: Path) -> Flask:
    return make_app(OTP_ROUTING_FILE=str(routing_file), OTP_RESEND_COOLDOWN="0")


@pytest.fixture
def wecom(httpserver: HTTPServer) -> WecomStandIn:
    return WecomStandIn(httpserver, {"13800138000": "zhangsan"})


@pytest.fixture
def mp(httpserver: HTTPServer) -> MpStandIn:
    return MpStandIn(httpserver)


def wecom_code(wecom: WecomStandIn) -> str:
    found = re.search(r"\b(\d{6})\b", wecom.sent[-1]["text"]["content"])
    assert found is not None
    return found.group(1)


def mp_code(mp: MpStandIn) -> str:
    return str(mp.sent[-1]["data"]["character_string1"]["value"])


def approved(client: FlaskClient, verification_id: str, code: str) -> bool:
    answer = client.post("/otp/verify", json={"id": verification_id, "code": code})
    return answer.status_code == 200 and answer.get_json()["status"] == "approved"


def test_a_wecom_member_gets_the_code_and_it_verifies(
    wechat_app: Flask, wecom: WecomStandIn, httpserver: HTTPServer
) -> None:
    client = wechat_app.test_client()
    response = client.post("/otp/request", json={"channel": "wechat", "phone": MEMBER})
    assert response.status_code == 202
    started = response.get_json()
    assert started["route"]["provider"] == "wecom"
    assert started["to"] == "+86138****8000"
    assert wecom.sent[0]["touser"] == "zhangsan"
    assert approved(client, started["id"], wecom_code(wecom))
    assert not [r for r, _ in httpserver.log if r.path == "/sms"]


def test_a_non_member_falls_back_to_sms(
    wechat_app: Flask, wecom: WecomStandIn, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/sms").respond_with_json({"message_id": "gw-1"})
    client = wechat_app.test_client()
    started = client.post("/otp/request", json={"channel": "wechat", "phone": STRANGER}).get_json()
    assert started["route"] == {"provider": "gateway", "own_numbers": False, "channel": "sms"} | {
        "attempts": 2
    }
    attempts = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"]
    assert [(a["provider"], a["channel"], a["error_class"], a["error_code"]) for a in attempts] == [
        ("wecom", "wechat", "unreachable", "46004"),
        ("gateway", "sms", "", ""),
    ]
    (sms,) = [json.loads(r.data) for r, _ in httpserver.log if r.path == "/sms"]
    assert sms["to"] == STRANGER
    assert approved(client, started["id"], sms["code"])


def test_non_members_never_open_the_wecom_circuit(
    wechat_app: Flask, wecom: WecomStandIn, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/sms").respond_with_json({"message_id": "gw-1"})
    client = wechat_app.test_client()
    for n in range(20):  # each a stranger of its own, each falls back to SMS
        phone = f"+86139{n:08d}"
        started = client.post("/otp/request", json={"channel": "wechat", "phone": phone})
        assert started.get_json()["route"]["provider"] == "gateway"
    health = wechat_app.extensions["otp"].health
    assert health.states("wecom", "CN") == "closed"
    assert health.states("wecom") == "closed"
    member = client.post("/otp/request", json={"channel": "wechat", "phone": MEMBER})
    assert member.get_json()["route"]["provider"] == "wecom"


def test_two_app_instances_fetch_one_wecom_token(
    make_app: Callable[..., Flask], routing_file: Path, wecom: WecomStandIn
) -> None:
    apps = [make_app(OTP_ROUTING_FILE=str(routing_file)) for _ in range(2)]
    purposes = ["login", "signup", "approve", "reset_password"]
    for purpose, app in zip(purposes, apps * 2, strict=True):
        body = {"channel": "wechat", "phone": MEMBER, "purpose": purpose}
        assert app.test_client().post("/otp/request", json=body).status_code == 202
    assert (wecom.tokens.fetches, len(wecom.sent)) == (1, 4)


def test_an_official_account_follower_gets_the_code_by_openid(
    wechat_app: Flask, mp: MpStandIn, httpserver: HTTPServer
) -> None:
    client = wechat_app.test_client()
    body = {"channel": "wechat", "wechat_openid": OPENID}
    started = client.post("/otp/request", json=body).get_json()
    assert started["route"]["provider"] == "official"
    assert started["to"] == "oUpF***eS6o"
    status = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()
    assert OPENID not in json.dumps(status)
    assert mp.sent[0]["touser"] == OPENID
    # A resend reaches the same follower with the same code.
    assert client.post(f"/otp/{started['id']}/resend").status_code == 202
    assert [sent["touser"] for sent in mp.sent] == [OPENID, OPENID]
    assert mp_code(mp) == mp.sent[0]["data"]["character_string1"]["value"]
    verify = {"wechat_openid": OPENID, "purpose": "login", "code": mp_code(mp)}
    answer = client.post("/otp/verify", json=verify, headers=TRUSTED)
    assert answer.get_json()["status"] == "approved"
    assert not [r for r, _ in httpserver.log if r.path == "/sms"]  # no phone: no SMS fallback


def test_a_follower_who_left_is_a_permanent_failure_without_sms(
    wechat_app: Flask, mp: MpStandIn, httpserver: HTTPServer
) -> None:
    mp.followers.clear()
    mp.former_followers.add(OPENID)
    body = {"channel": "wechat", "wechat_openid": OPENID}
    response = wechat_app.test_client().post("/otp/request", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["attempts"] == [
        {
            "provider": "official",
            "outcome": "failed",
            "error_class": "permanent",
            "error_code": "43004",
        }
    ]
    assert not [r for r, _ in httpserver.log if r.path == "/sms"]


def test_an_openid_never_falls_back_to_sms(
    wechat_app: Flask, mp: MpStandIn, httpserver: HTTPServer
) -> None:
    path = "/cgi-bin/message/template/send"
    httpserver.expect_oneshot_request(path).respond_with_json({"errcode": 48001, "errmsg": "x"})
    body = {"channel": "wechat", "wechat_openid": OPENID}
    response = wechat_app.test_client().post("/otp/request", json=body)
    assert response.status_code == 502
    attempts = response.get_json()["error"]["details"]["attempts"]
    assert [(a["provider"], a["error_class"]) for a in attempts] == [("official", "route")]
    assert not [r for r, _ in httpserver.log if r.path == "/sms"]  # an openid is no phone


TWILIO = """
channels: [sms, whatsapp]
providers:
  twilio:
    type: twilio
    channels: [sms, whatsapp]
    settings:
      account_sid: AC00000000000000000000000000000000
      auth_token: ${TWILIO_TOKEN}
      from_number: "+15005550006"
      whatsapp_from: "+14155238886"
      base_url: "%s/twilio"
%s
own_numbers:
  default: [{provider: twilio}]
"""
TEMPLATES = """      whatsapp_templates:
        "*": {en: {content_sid: HX0123456789abcdef0123456789abcdef, variables: {code: 1}}}"""
MESSAGES = "/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"


@pytest.fixture
def twilio_routing(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], str]:
    """Writes a routing file whose twilio provider serves whatsapp with the given settings."""
    monkeypatch.setenv("TWILIO_TOKEN", "twilio-auth-token-0123456789abcd")

    def write(whatsapp_settings: str) -> str:
        path = tmp_path / "twilio.yaml"
        path.write_text(TWILIO % (httpserver.url_for("").rstrip("/"), whatsapp_settings))
        return str(path)

    return write


def test_a_whatsapp_code_goes_out_as_the_approved_template(
    make_app: Callable[..., Flask], httpserver: HTTPServer, twilio_routing: Callable[[str], str]
) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM1"}, 201)
    client = make_app(OTP_ROUTING_FILE=twilio_routing(TEMPLATES)).test_client()
    body = {"channel": "whatsapp", "phone": "+14155552671"}
    started = client.post("/otp/request", json=body).get_json()
    ((request, _),) = httpserver.log
    assert request.form["To"] == "whatsapp:+14155552671"
    assert request.form["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert "Body" not in request.form
    code = json.loads(request.form["ContentVariables"])["1"]
    assert approved(client, started["id"], code)


def test_whatsapp_without_templates_is_refused_at_start_up(
    make_app: Callable[..., Flask], twilio_routing: Callable[[str], str]
) -> None:
    with pytest.raises(RoutingError, match=r"providers\.twilio\.settings\.whatsapp_templates: "):
        make_app(OTP_ROUTING_FILE=twilio_routing(""))
