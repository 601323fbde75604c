"""The wechat channel through the API: a phone (WeCom) or an openid (Official Account), the
openid kept for resends and queued sends, masked in answers, never handed to a phone channel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import TRUSTED, outbox_code

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
PHONE = "+8613800138000"
ROUTING = """
providers:
  wx: {type: console, channels: [wechat]}
  text: {type: console, channels: [sms]}
own_numbers:
  default: [{provider: wx}, {provider: text}]
channel_fallbacks: {wechat: sms}
"""


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    return make_app(OTP_ROUTING_FILE=str(path), OTP_RESEND_COOLDOWN="0")


def outbox(client: FlaskClient, to: str) -> list[dict[str, Any]]:
    answer = client.get("/dev/outbox", query_string={"to": to}).get_json()
    return list(answer["messages"])


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "wechat"},
        {"channel": "wechat", "phone": PHONE, "wechat_openid": OPENID},
        {"channel": "sms", "phone": PHONE, "wechat_openid": OPENID},
        {"channel": "wechat", "wechat_openid": "o@x"},
    ],
)
def test_a_wechat_request_needs_a_phone_or_an_openid(client: FlaskClient, body: Any) -> None:
    response = client.post("/otp/request", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "wechat_openid" in error["details"]["fields"]


def test_an_openid_code_is_delivered_masked_and_verifies(client: FlaskClient) -> None:
    started = client.post("/otp/request", json={"channel": "wechat", "wechat_openid": OPENID})
    assert started.status_code == 202
    answer = started.get_json()
    assert (answer["channel"], answer["to"]) == ("wechat", "oUpF***eS6o")
    for headers in ({}, TRUSTED):  # what anyone holding the id sees, and trusted callers
        status = client.get(f"/otp/{answer['id']}", headers=headers).get_json()
        assert status["to"] == "oUpF***eS6o"
        assert OPENID not in json.dumps(status)
    code = outbox_code(client, OPENID)
    verify = client.post("/otp/verify", json={"id": answer["id"], "code": code})
    assert verify.get_json()["status"] == "approved"


def test_a_resend_reaches_the_same_openid(app: Flask) -> None:
    client = app.test_client()
    body = {"channel": "wechat", "wechat_openid": OPENID}
    first = client.post("/otp/request", json=body).get_json()
    assert client.post(f"/otp/{first['id']}/resend").status_code == 202
    client.post("/otp/request", json=body)  # another caller asking for the same follower
    sent = outbox(client, OPENID)
    assert [m["channel"] for m in sent] == ["wechat"] * 3
    assert len({m["text"] for m in sent}) == 1  # one verification, one code


def test_verify_by_openid_and_purpose(client: FlaskClient) -> None:
    body = {"channel": "wechat", "wechat_openid": OPENID, "purpose": "signup"}
    client.post("/otp/request", json=body)
    verify = {"wechat_openid": OPENID, "purpose": "signup", "code": outbox_code(client, OPENID)}
    answer = client.post("/otp/verify", json=verify, headers=TRUSTED)
    assert answer.get_json()["status"] == "approved"


def test_a_queued_send_reaches_the_stored_openid(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    queued = make_app(OTP_ROUTING_FILE=str(path), OTP_DELIVERY="queue")
    client = queued.test_client()
    started = client.post("/otp/request", json={"channel": "wechat", "wechat_openid": OPENID})
    verification_id = started.get_json()["id"]
    assert outbox(client, OPENID) == []
    # What the queued job runs (tests/test_queue.py drives the worker process itself).
    assert queued.extensions["otp"].service.deliver_queued(verification_id, 1) == "sent"
    assert [m["verification_id"] for m in outbox(client, OPENID)] == [verification_id]


def test_an_openid_has_no_phone_to_fall_back_to(app: Flask) -> None:
    router = app.extensions["otp"].router
    by_openid = router.plan("", "wechat", "seed")
    by_phone = router.plan("CN", "wechat", "seed")
    assert [(s.provider, s.channel) for s in by_openid.steps] == [("wx", "wechat")]
    assert [(s.provider, s.channel) for s in by_phone.steps] == [("wx", "wechat"), ("text", "sms")]


def test_a_wecom_request_is_filed_under_the_phone(app: Flask) -> None:
    client = app.test_client()
    started = client.post("/otp/request", json={"channel": "wechat", "phone": PHONE}).get_json()
    assert started["to"] == "+86138****8000"
    verify = {"phone": PHONE, "purpose": "login", "code": outbox_code(client, PHONE)}
    answer = client.post("/otp/verify", json=verify, headers=TRUSTED)
    assert answer.get_json()["status"] == "approved"
