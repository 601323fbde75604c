"""The aliyun adapter through the real Alibaba Cloud SDK against a local SendSms stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from app.delivery.providers.aliyun import AliyunProvider
from app.delivery.providers.base import (
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    ReceiptRejected,
)

from ..conftest import free_port
from .signatures import acs3_signature_ok
from .standins import (
    TEMPLATE_FIELDS,
    config_error_key,
    expect_failure,
    json_push,
    sent_request,
    stalled,
)
from .standins import template_message as message

KEY_ID, KEY_SECRET = "LTAI5tTestKeyId", "test-key-secret"
TOKEN = "aliyun-report-token-0123456789"
RECEIVING_URL = "https://otp.example.com/otp/callbacks/ali"
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
    context = ProviderContext(send_timeout=timeout)
    return AliyunProvider.from_settings(
        "ali", frozenset({"sms"}), settings(server, **overrides), context
    )


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
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


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


def sms_report(success: bool, err_code: str, biz_id: str = OK_BODY["BizId"]) -> dict[str, Any]:
    """One SmsReport of the HTTP batch push."""
    return {
        "phone_number": "13800138000",
        "send_time": "2017-01-01 00:00:00",
        "report_time": "2017-01-01 00:00:00",
        "success": success,
        "err_code": err_code,
        "err_msg": "用户接收成功" if success else "失败",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": "",
    }


def test_sms_reports_become_receipts(httpserver: HTTPServer) -> None:
    pushed = [sms_report(True, "DELIVERED"), sms_report(False, "MK:0001", "1234^0")]

    receipts = provider(httpserver, callback_token=TOKEN).parse_receipts(
        json_push(pushed, f"{RECEIVING_URL}?token={TOKEN}")
    )

    assert receipts == [
        Receipt(message_id=OK_BODY["BizId"], status="delivered", provider_code="DELIVERED"),
        Receipt(message_id="1234^0", status="undelivered", provider_code="MK:0001"),
    ]


@pytest.mark.parametrize(
    ("token", "url"),
    [
        (TOKEN, RECEIVING_URL),
        (TOKEN, f"{RECEIVING_URL}?token=aliyun-report-token-012345678X"),
        (None, f"{RECEIVING_URL}?token={TOKEN}"),
    ],
    ids=["no-token", "wrong-token", "none-configured"],
)
def test_forged_sms_reports_are_refused(
    httpserver: HTTPServer, token: str | None, url: str
) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver, callback_token=token).parse_receipts(
            json_push([sms_report(True, "DELIVERED")], url)
        )


def test_the_answer_has_the_numeric_code_alibaba_checks(httpserver: HTTPServer) -> None:
    answer = provider(httpserver).callback_answer(2)

    assert answer.status == 200
    assert json.loads(answer.body) == {"code": 0, "msg": "接收成功"}
