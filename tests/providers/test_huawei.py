"""The huawei adapter's own HTTP code against a local Message & SMS stand-in, and its receipts."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from calendar import timegm
from typing import Any
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.base import (
    CallbackRequest,
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    ReceiptRejected,
)
from app.delivery.providers.huawei import HuaweiProvider

from ..conftest import free_port
from .standins import TEMPLATE_FIELDS, config_error_key, expect_failure, sent_request, stalled
from .standins import template_message as message

APP_KEY, APP_SECRET = "c8RWg3ggEcyd4D3p94bf3Y7x1Ile", "q4Ii87BhST9vcs8wvrzN80SfD7Al"
CODE = TEMPLATE_FIELDS["code"]
TOKEN = "receipt-token-0123456789abcdef"
CALLBACK = "https://otp.example.com/receipts/huawei"
PATH = "/sms/batchSendSms/v1"
MSG_ID = "d6e3cdd0-522b-4692-8304-a07553cdf591_8539659"


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "sender": "1069031221280012",
        "templates": {"login": "8ff55eac1d0b478ab3c06c3c6a492300"},
        "endpoint": f"http://127.0.0.1:{server.port}",
        "status_callback": CALLBACK,
        "callback_token": TOKEN,
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> HuaweiProvider:
    context = ProviderContext(send_timeout=timeout)
    return HuaweiProvider.from_settings(
        "hw", frozenset({"sms"}), settings(server, **overrides), context
    )


def result(status: str, code: str = "000000") -> dict[str, Any]:
    recipient = {
        "originTo": "+8613800138000",
        "createTime": "2018-05-25T16:34:34Z",
        "from": "1069031221280012",
        "smsMsgId": MSG_ID,
        "status": status,
    }
    description = "Success" if code == "000000" else "The SMS fails to be sent."
    return {"result": [recipient], "code": code, "description": description}


def stand_in(server: HTTPServer, body: dict[str, Any], status: int = 200) -> None:
    """Answer like Huawei, but only to a request whose X-WSSE digest checks out."""

    def handler(request: Request) -> Response:
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.headers["Authorization"] == (
            'WSSE realm="SDP",profile="UsernameToken",type="Appkey"'
        )
        assert_wsse_valid(request.headers["X-WSSE"])
        return Response(json.dumps(body), status, content_type="application/json;charset=UTF-8")

    server.expect_oneshot_request(PATH, method="POST").respond_with_handler(handler)


def assert_wsse_valid(header: str) -> None:
    assert header.startswith("UsernameToken ")
    token = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert token["Username"] == APP_KEY
    digest = hashlib.sha256(f"{token['Nonce']}{token['Created']}{APP_SECRET}".encode()).hexdigest()
    assert token["PasswordDigest"] == base64.b64encode(digest.encode()).decode()
    created = timegm(time.strptime(token["Created"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(created - time.time()) < 60  # UTC, as Huawei compares it to its own clock


def sent_form(server: HTTPServer) -> dict[str, str]:
    return dict(sent_request(server).form)


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def receipt(url: str, status: str = "DELIVRD") -> CallbackRequest:
    form = {
        "sequence": "1",
        "total": "1",
        "orgCode": "000",
        "updateTime": "2018-04-13T06:31:46Z",
        "source": "2",
        "smsMsgId": MSG_ID,
        "status": status,
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return CallbackRequest(url=url, headers=headers, form=form, body=b"")


def test_success_returns_sms_msg_id_and_sends_the_form(httpserver: HTTPServer) -> None:
    stand_in(httpserver, result("000000"))

    sent = provider(httpserver, signature="华为云短信测试").send(message())

    httpserver.check_assertions()
    assert sent.message_id == MSG_ID
    form = sent_form(httpserver)
    assert form["from"] == "1069031221280012"
    assert form["to"] == "+8613800138000"
    assert form["templateId"] == "8ff55eac1d0b478ab3c06c3c6a492300"
    assert json.loads(form["templateParas"]) == [CODE, "5"]
    assert form["signature"] == "华为云短信测试"
    assert form["statusCallback"] == f"{CALLBACK}?token={TOKEN}"


def test_own_sender_and_no_callback(httpserver: HTTPServer) -> None:
    stand_in(httpserver, result("000000"))
    hw = provider(httpserver, status_callback=None, template_params=["code"])

    hw.send(message(sender="8824000000001"))

    form = sent_form(httpserver)
    assert (form["from"], form["templateParas"]) == ("8824000000001", json.dumps([CODE]))
    assert "statusCallback" not in form
    assert "signature" not in form


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("E200028", FailureClass.ROUTE),  # template variables do not match
        ("E200024", FailureClass.ROUTE),  # international SMS not enabled
        ("E200018", FailureClass.ROUTE),
        ("E000632", FailureClass.PERMANENT),  # number blacklisted
        ("E200099", FailureClass.ROUTE),
    ],
)
def test_partial_failure_reads_the_recipient_status(
    httpserver: HTTPServer, status: str, expected: FailureClass
) -> None:
    stand_in(httpserver, result(status, code="E000510"))

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, status)


@pytest.mark.parametrize("status", ["MILIMIT", "LIMIT"])
def test_number_limits_are_recipient_throttled(httpserver: HTTPServer, status: str) -> None:
    stand_in(httpserver, result(status, code="E000510"))

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (FailureClass.RECIPIENT_THROTTLED, status)
    assert error.retry_after == 60


@pytest.mark.parametrize(
    ("params", "body"),
    [
        (["app", "code", "minutes"], "${1}：您的验证码为${2}，${3}分钟内有效。"),
        (["app", "code", "minutes"], "${TXT_20}：您的验证码为${NUM_6}，${NUM_2}分钟内有效。"),
        (["app", "code", "minutes"], "${1}验证码${2}，${3}分钟内有效。${1}提醒您请勿泄露。"),
    ],
)
def test_template_params_fill_the_checked_template(
    httpserver: HTTPServer, params: list[str], body: str
) -> None:
    stand_in(httpserver, result("000000"))
    hw = provider(httpserver, template_params=params, template_bodies={"login": body})

    hw.send(message(app="Acme"))

    assert json.loads(sent_form(httpserver)["templateParas"]) == ["Acme", CODE, "5"]


@pytest.mark.parametrize(
    ("http_status", "code", "expected"),
    [
        (401, "E000101", FailureClass.ROUTE),  # authentication failed
        (401, "E000104", FailureClass.ROUTE),
        (403, "E000112", FailureClass.ROUTE),  # account frozen
        (403, "E000620", FailureClass.ROUTE),  # IP not allowed
        (403, "E000623", FailureClass.ROUTE),
        (400, "E000503", FailureClass.ROUTE),  # parameter format
        (500, "E000000", FailureClass.TRANSIENT),
        (503, "E999999", FailureClass.TRANSIENT),
    ],
)
def test_request_errors(
    httpserver: HTTPServer, http_status: int, code: str, expected: FailureClass
) -> None:
    stand_in(httpserver, {"code": code, "description": "refused"}, status=http_status)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [(502, FailureClass.TRANSIENT), (404, FailureClass.ROUTE), (200, FailureClass.TRANSIENT)],
)
def test_unreadable_bodies(
    httpserver: HTTPServer, http_status: int, expected: FailureClass
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_data("<html>oops</html>", http_status)

    assert send_failure(httpserver).failure is expected


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response(json.dumps(result("000000")), content_type="application/json")
    with stalled(httpserver, PATH, answer) as stall:
        error = send_failure(httpserver)

    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient(httpserver: HTTPServer) -> None:
    closed = provider(httpserver, endpoint=f"http://127.0.0.1:{free_port()}")

    assert expect_failure(closed, message()).failure is FailureClass.TRANSIENT


def test_purpose_without_template_is_route(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    assert send_failure(httpserver, message(purpose="signup")).failure is FailureClass.ROUTE


def test_receipt_with_the_token_we_sent_is_accepted(httpserver: HTTPServer) -> None:
    stand_in(httpserver, result("000000"))
    hw = provider(httpserver)
    hw.send(message())
    callback_url = sent_form(httpserver)["statusCallback"]

    receipts = hw.parse_receipts(receipt(callback_url))

    assert receipts == [Receipt(message_id=MSG_ID, status="delivered", provider_code="DELIVRD")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("UNDELIV", "undelivered"),
        ("EXPIRED", "undelivered"),
        ("REJECTD", "failed"),
        ("E200027", "failed"),
        ("MK:0015", "failed"),
    ],
)
def test_receipt_statuses(httpserver: HTTPServer, status: str, expected: str) -> None:
    [parsed] = provider(httpserver).parse_receipts(receipt(f"{CALLBACK}?token={TOKEN}", status))

    assert (parsed.status, parsed.provider_code) == (expected, status)


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        ("LIMIT", FailureClass.RECIPIENT_THROTTLED),
        ("MILIMIT", FailureClass.RECIPIENT_THROTTLED),
        ("E000632", FailureClass.PERMANENT),
        ("MK:0015", None),
    ],
)
def test_receipts_say_what_a_failure_means(
    httpserver: HTTPServer, status: str, failure: FailureClass | None
) -> None:
    [parsed] = provider(httpserver).parse_receipts(receipt(f"{CALLBACK}?token={TOKEN}", status))

    assert (parsed.status, parsed.failure) == ("failed", failure)


def test_interim_receipt_is_ignored(httpserver: HTTPServer) -> None:
    request = receipt(f"{CALLBACK}?token={TOKEN}", "ACCEPTD")

    assert provider(httpserver).parse_receipts(request) == []


@pytest.mark.parametrize(
    "url",
    [
        CALLBACK,
        f"{CALLBACK}?token=",
        f"{CALLBACK}?token=forged-token-0123456789",
        f"{CALLBACK}?token={TOKEN[:-1]}",
    ],
)
def test_forged_receipt_is_refused(httpserver: HTTPServer, url: str) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(receipt(url))


def test_receipts_refused_without_a_configured_token(httpserver: HTTPServer) -> None:
    hw = provider(httpserver, status_callback=None, callback_token=None)

    with pytest.raises(ReceiptRejected):
        hw.parse_receipts(receipt(f"{CALLBACK}?token={TOKEN}"))


def test_existing_callback_query_is_kept(httpserver: HTTPServer) -> None:
    stand_in(httpserver, result("000000"))

    provider(httpserver, status_callback=f"{CALLBACK}?tenant=t1").send(message())

    query = urlsplit(sent_form(httpserver)["statusCallback"]).query
    assert query == f"tenant=t1&token={TOKEN}"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"endpoint": None}, "endpoint"),
        ({"endpoint": "smtp://smsapi.example.com"}, "endpoint"),
        ({"app_key": None}, "app_key"),
        ({"app_secret": ""}, "app_secret"),
        ({"sender": None}, "sender"),
        ({"templates": {}}, "templates"),
        ({"template_params": ["code", "name"]}, "template_params"),
        ({"template_bodies": {"login": "您的验证码为${1}"}}, "template_bodies.login"),
        (
            {"template_bodies": {"login": "验证码${NUM_6}，${NUM_2}分钟，${TXT_20}"}},
            "template_bodies.login",
        ),
        ({"template_bodies": {"login": "【华为云】验证码${1}，${2}分钟"}}, "template_bodies.login"),
        ({"template_bodies": {"signup": "验证码${1}，${2}分钟"}}, "template_bodies.signup"),
        ({"callback_token": None}, "callback_token"),
        ({"callback_token": "short"}, "callback_token"),
        ({"status_callback": "ftp://otp.example.com/receipts"}, "status_callback"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key


def test_status_reports_are_answered_200_with_an_empty_body(httpserver: HTTPServer) -> None:
    answer = provider(httpserver).callback_answer(1)

    assert (answer.status, answer.body) == (200, "")
