"""The cmsi adapter's own HTTP code against a local stand-in of a BlueKing API gateway's CMSI
components (send_sms, send_voice_msg, send_mail, send_weixin)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.base import FailureClass, Message, ProviderContext, ProviderError
from app.delivery.providers.cmsi import CmsiProvider

from ..conftest import free_port
from .standins import CONTEXT, config_error_key, expect_failure, sent_request, stalled
from .standins import message as text_message

APP_CODE, APP_SECRET, USERNAME = "otp-service", "bk-app-secret-0123456789", "admin"
PREFIX = "/api/c/compapi/cmsi/"
CHANNELS = frozenset({"sms", "voice", "email", "wechat"})
OK = {"result": True, "code": 0, "message": "OK", "request_id": "c4a6e2d1f0b94e6c"}
CODE = "123456"


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "base_url": f"http://127.0.0.1:{server.port}",
        "bk_app_code": APP_CODE,
        "bk_app_secret": APP_SECRET,
        "bk_username": USERNAME,
        "sms_signature": "Tencent BlueKing",
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> CmsiProvider:
    context = ProviderContext(send_timeout=timeout)
    return CmsiProvider.from_settings("bk", CHANNELS, settings(server, **overrides), context)


def message(**fields: Any) -> Message:
    return text_message(**{"to": "+8613800138000", "code": CODE, **fields})


def stand_in(server: HTTPServer, component: str, body: dict[str, Any], status: int = 200) -> None:
    """Answer like the ESB, but only to a JSON POST carrying the app's credentials."""

    def handler(request: Request) -> Response:
        sent = json.loads(request.get_data())
        assert request.headers["Content-Type"] == "application/json"
        assert (sent["bk_app_code"], sent["bk_app_secret"]) == (APP_CODE, APP_SECRET)
        assert sent["bk_username"] == USERNAME
        return Response(json.dumps(body), status, content_type="application/json")

    path = f"{PREFIX}{component}/"
    server.expect_oneshot_request(path, method="POST").respond_with_handler(handler)


def sent(server: HTTPServer) -> dict[str, Any]:
    server.check_assertions()
    body: dict[str, Any] = json.loads(sent_request(server).get_data())
    return body


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def test_sms_with_the_signature_to_national_digits(httpserver: HTTPServer) -> None:
    stand_in(httpserver, "send_sms", OK)

    result = provider(httpserver).send(message())

    assert result.message_id == OK["request_id"]
    body = sent(httpserver)
    assert body["receiver"] == "13800138000"  # the default component adds nation code 86
    assert body["content"] == f"【Tencent BlueKing】Your code is {CODE}"


def test_sms_in_international_format(httpserver: HTTPServer) -> None:
    stand_in(httpserver, "send_sms", {"result": True, "code": "00", "message": "OK"})

    result = provider(httpserver, phone_format="international").send(message(to="+4915123456789"))

    assert result.message_id.startswith("cmsi-")
    assert sent(httpserver)["receiver"] == "4915123456789"


def test_voice_reads_the_code_digit_by_digit(httpserver: HTTPServer) -> None:
    answer = {"result": True, "code": "00", "message": "", "data": {"instance_id": "2662152044"}}
    stand_in(httpserver, "send_voice_msg", answer)

    result = provider(httpserver).send(message(channel="voice"))

    assert result.message_id == "2662152044"
    body = sent(httpserver)
    assert body["auto_read_message"] == "Your code is 1 2 3 4 5 6"
    assert body["user_list_information"] == [{"username": "v-1", "mobile_phone": "13800138000"}]


def test_mail(httpserver: HTTPServer) -> None:
    stand_in(httpserver, "send_mail", OK)

    provider(httpserver, mail_sender="otp@example.com").send(
        message(channel="email", to="alice@example.com")
    )

    body = sent(httpserver)
    assert (body["receiver"], body["sender"]) == ("alice@example.com", "otp@example.com")
    assert (body["title"], body["body_format"]) == ("Your verification code", "Text")
    assert body["content"] == f"Your code is {CODE}"


def test_wechat_to_an_openid(httpserver: HTTPServer) -> None:
    stand_in(httpserver, "send_weixin", OK)

    provider(httpserver).send(message(channel="wechat", to="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))

    body = sent(httpserver)
    assert body["receiver"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert body["data"] == {"heading": "Verification code", "message": f"Your code is {CODE}"}


@pytest.mark.parametrize(
    "msg",
    [
        message(channel="wechat"),  # send_weixin takes no phone number
        message(to="+4915123456789"),  # the default components send with nation code 86
        message(channel="voice", to="+4915123456789"),
    ],
    ids=["wechat-phone", "sms-abroad", "voice-abroad"],
)
def test_destinations_the_protocol_cannot_take_are_route(
    httpserver: HTTPServer, msg: Message
) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    assert send_failure(httpserver, msg).failure is FailureClass.ROUTE


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1306429, FailureClass.TRANSIENT),
        (1306201, FailureClass.TRANSIENT),
        ("1306205", FailureClass.TRANSIENT),
        (1306406, FailureClass.ROUTE),
        (1306403, FailureClass.ROUTE),
        (1306000, FailureClass.ROUTE),
        (1399999, FailureClass.ROUTE),
    ],
)
def test_gateway_failures(httpserver: HTTPServer, code: Any, expected: FailureClass) -> None:
    answer = {"result": False, "code": code, "message": f"refused 13800138000 code {CODE}"}
    stand_in(httpserver, "send_sms", answer)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, str(code))
    assert "13800138000" not in error.message


@pytest.mark.parametrize(("status", "expected"), [(502, "transient"), (404, "route")])
def test_http_errors_without_a_body(httpserver: HTTPServer, status: int, expected: str) -> None:
    path = f"{PREFIX}send_sms/"
    httpserver.expect_oneshot_request(path).respond_with_data("<html>x</html>", status)

    assert send_failure(httpserver).failure == expected


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response(json.dumps(OK), content_type="application/json")
    with stalled(httpserver, f"{PREFIX}send_sms/", answer) as stall:
        error = send_failure(httpserver)

    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient(httpserver: HTTPServer) -> None:
    closed = provider(httpserver, base_url=f"http://127.0.0.1:{free_port()}")

    assert expect_failure(closed, message()).failure is FailureClass.TRANSIENT


def test_custom_path_prefix(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/gw/cmsi/send_sms/", method="POST").respond_with_json(OK)

    provider(httpserver, path_prefix="/gw/cmsi/").send(message())

    httpserver.check_assertions()


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"base_url": None}, "base_url"),
        ({"base_url": "paas.example.com"}, "base_url"),
        ({"path_prefix": "api/cmsi"}, "path_prefix"),
        ({"bk_app_code": ""}, "bk_app_code"),
        ({"bk_app_secret": None}, "bk_app_secret"),
        ({"bk_username": None}, "bk_username"),
        ({"sms_signature": None}, "sms_signature"),
        ({"sms_signature": "【BlueKing】"}, "sms_signature"),
        ({"phone_format": "e164"}, "phone_format"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key


def test_no_signature_needed_without_sms(httpserver: HTTPServer) -> None:
    mail_only = CmsiProvider.from_settings(
        "bk", frozenset({"email"}), settings(httpserver, sms_signature=None), CONTEXT
    )

    assert mail_only.channels == {"email"}
