"""The aliyun adapter through the real Alibaba Cloud SDK against a local SendSms stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.aliyun import AliyunProvider
from app.delivery.providers.base import FailureClass, Message, ProviderError

from ..conftest import free_port
from .standins import TEMPLATE_FIELDS, config_error_key, expect_failure, sent_request, stalled
from .standins import template_message as message

KEY_ID, KEY_SECRET = "LTAI5tTestKeyId", "test-key-secret"
CODE = TEMPLATE_FIELDS["code"]
OK_BODY = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"}


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "sign_name": "阿里云短信测试",
        "templates": {"login": "SMS_154950909"},
        "template_params": {"code": "code", "minutes": "min"},
        "endpoint": f"http://127.0.0.1:{server.port}",
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> AliyunProvider:
    return AliyunProvider.from_settings(
        "ali", frozenset({"sms"}), settings(server, **overrides), timeout
    )


def acs3_signature_ok(request: Request, secret: str) -> bool:
    """Recompute the ACS3-HMAC-SHA256 signature the way Alibaba's gateway does."""
    fields = dict(part.split("=", 1) for part in request.headers["Authorization"][17:].split(","))
    signed = fields["SignedHeaders"]
    query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(request.args.items()))
    headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed.split(";"))
    payload = hashlib.sha256(request.get_data()).hexdigest()
    canonical = "\n".join([request.method, request.path, query, headers, signed, payload])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"])


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def test_success_returns_biz_id_and_sends_a_signed_send_sms(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/", method="POST").respond_with_json(OK_BODY)

    result = provider(httpserver).send(message())

    assert result.message_id == OK_BODY["BizId"]
    request = sent_request(httpserver)
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    assert request.headers["Authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={KEY_ID},")
    assert acs3_signature_ok(request, KEY_SECRET)
    assert request.args["PhoneNumbers"] == "13800138000"  # mainland: no +86
    assert request.args["SignName"] == "阿里云短信测试"
    assert request.args["TemplateCode"] == "SMS_154950909"
    assert json.loads(request.args["TemplateParam"]) == {"code": CODE, "min": "5"}


def test_international_number_keeps_country_code_without_plus(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(OK_BODY)

    provider(httpserver, template_params={"code": "otp"}).send(message(to="+85291234567"))

    request = sent_request(httpserver)
    assert request.args["PhoneNumbers"] == "85291234567"
    assert json.loads(request.args["TemplateParam"]) == {"otp": CODE}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("isp.SYSTEM_ERROR", FailureClass.TRANSIENT),
        ("isv.MOBILE_NUMBER_ILLEGAL", FailureClass.PERMANENT),
        ("isv.AMOUNT_NOT_ENOUGH", FailureClass.ROUTE),
        ("isv.SMS_SIGNATURE_ILLEGAL", FailureClass.ROUTE),
        ("isv.TEMPLATE_MISSING_PARAMETERS", FailureClass.ROUTE),
        ("isv.DENY_IP_RANGE", FailureClass.ROUTE),
        ("isv.SOMETHING_NEW", FailureClass.ROUTE),
    ],
)
def test_business_failures_on_http_200(
    httpserver: HTTPServer, code: str, expected: FailureClass
) -> None:
    body = {"Code": code, "Message": "refused for +8613800138000", "RequestId": "A1"}
    httpserver.expect_oneshot_request("/").respond_with_json(body)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)
    assert "13800138000" not in error.message


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("触发分钟级流控Permits:1", 60),
        ("触发小时级流控Permits:5", 3600),
        ("触发天级流控Permits:10", 86400),
        ("Triggering hour level flow control", 3600),
        ("触发业务流控", 60),  # the window unnamed: the one-a-minute limit
    ],
)
def test_per_number_flow_control_is_recipient_throttled(
    httpserver: HTTPServer, message: str, seconds: int
) -> None:
    body = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": message, "RequestId": "A3"}
    httpserver.expect_oneshot_request("/").respond_with_json(body)

    error = send_failure(httpserver)

    assert error.failure is FailureClass.RECIPIENT_THROTTLED
    assert (error.provider_code, error.retry_after) == ("isv.BUSINESS_LIMIT_CONTROL", seconds)


def test_template_params_may_name_the_app(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(OK_BODY)
    params = {"app": "product", "code": "code"}
    body = "您正在登录${product}，验证码${code}，切勿告知他人。"

    provider(httpserver, template_params=params, template_bodies={"login": body}).send(
        message(app="Acme")
    )

    param = json.loads(sent_request(httpserver).args["TemplateParam"])
    assert param == {"product": "Acme", "code": CODE}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (503, "ServiceUnavailable", FailureClass.TRANSIENT),
        (500, "UnknownError", FailureClass.TRANSIENT),
        (400, "Throttling.User", FailureClass.TRANSIENT),
        (404, "InvalidAccessKeyId.NotFound", FailureClass.ROUTE),
        (400, "SignatureDoesNotMatch", FailureClass.ROUTE),
        (403, "Forbidden.Unknown", FailureClass.ROUTE),
    ],
)
def test_http_errors(
    httpserver: HTTPServer, status: int, code: str, expected: FailureClass
) -> None:
    body = {"Code": code, "Message": "error", "RequestId": "A2", "HostId": "dysmsapi.aliyuncs.com"}
    httpserver.expect_oneshot_request("/").respond_with_json(body, status=status)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)


def test_unreadable_error_body_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data("<html>Bad Gateway</html>", 502)

    assert send_failure(httpserver).failure is FailureClass.TRANSIENT


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response(json.dumps(OK_BODY), content_type="application/json")
    with stalled(httpserver, "/", answer) as stall:
        error = send_failure(httpserver)

    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 0.75


def test_connection_refused_is_transient(httpserver: HTTPServer) -> None:
    closed = provider(httpserver, timeout=0.5, endpoint=f"http://127.0.0.1:{free_port()}")

    error = expect_failure(closed, message())  # the code stays out of its message

    assert error.failure is FailureClass.TRANSIENT


def test_purpose_without_template_is_route(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    error = send_failure(httpserver, message(purpose="reset_password"))

    assert error.failure is FailureClass.ROUTE


def test_own_sender_cannot_be_honoured(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    error = send_failure(httpserver, message(sender="+8613900000000"))

    assert error.failure is FailureClass.ROUTE


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"access_key_id": None}, "access_key_id"),
        ({"access_key_secret": ""}, "access_key_secret"),
        ({"sign_name": None}, "sign_name"),
        ({"sign_name": "【阿里云】"}, "sign_name"),
        ({"templates": {}}, "templates"),
        ({"templates": {"login": ""}}, "templates.login"),
        ({"template_params": {"minutes": "min"}}, "template_params"),
        ({"template_params": {"code": "code", "name": "x"}}, "template_params"),
        (
            {"template_bodies": {"login": "验证码${code}，${min}分钟内有效，${x}"}},
            "template_bodies.login",
        ),
        ({"template_bodies": {"login": "验证码${code}"}}, "template_bodies.login"),
        (
            {"template_bodies": {"login": "【阿里云】验证码${code}，${min}分钟"}},
            "template_bodies.login",
        ),
        ({"template_bodies": {"signup": "验证码${code}，${min}分钟"}}, "template_bodies.signup"),
        ({"endpoint": "ftp://127.0.0.1"}, "endpoint"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key


def test_only_the_sms_channel(httpserver: HTTPServer) -> None:
    voice = frozenset({"sms", "voice"})

    key = config_error_key(AliyunProvider.from_settings, "ali", voice, settings(httpserver), 5)

    assert key == "channels"
