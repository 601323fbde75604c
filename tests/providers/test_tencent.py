"""The tencent adapter through the real Tencent Cloud SDK against a local SendSms stand-in."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from app.delivery.providers.base import (
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    ReceiptRejected,
)
from app.delivery.providers.tencent import TencentProvider

from .signatures import tc3_signature_ok
from .standins import (
    TEMPLATE_FIELDS,
    config_error_key,
    expect_failure,
    json_push,
    sent_request,
    stalled,
)
from .standins import template_message as message

SECRET_ID, SECRET_KEY = "AKIDtestSecretId", "test-secret-key"
TOKEN = "tencent-callback-token-0123456789"
CALLBACK = "https://otp.example.com/otp/callbacks/tc"
SERIAL_NO = "5000:1045710669157053657849499619"
CODE = TEMPLATE_FIELDS["code"]
BODY = "{1} is your login verification code, please fill it in within {2} minutes."


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "sdk_app_id": 1400006666,  # YAML reads the bare digits as a number
        "sign_name": "Tencent BlueKing",
        "templates": {"login": "449739"},
        "template_bodies": {"login": BODY},
        "endpoint": f"http://127.0.0.1:{server.port}",
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> TencentProvider:
    context = ProviderContext(send_timeout=timeout)
    return TencentProvider.from_settings(
        "tc", frozenset({"sms"}), settings(server, **overrides), context
    )


def send_status(code: str, message: str = "send success") -> dict[str, Any]:
    status = {
        "SerialNo": "5000:1045710669157053657849499619",
        "PhoneNumber": "+8613800138000",
        "Fee": 1,
        "SessionContext": "",
        "Code": code,
        "Message": message,
        "IsoCode": "CN",
    }
    return {"Response": {"SendStatusSet": [status], "RequestId": "a0aabda6-cf91"}}


def request_error(code: str) -> dict[str, Any]:
    error = {"Code": code, "Message": "request refused"}
    return {"Response": {"Error": error, "RequestId": "b1bbcde7-df02"}}


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def test_success_returns_serial_no_and_sends_a_signed_request(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/", method="POST").respond_with_json(send_status("Ok"))

    result = provider(httpserver).send(message())

    assert result.message_id == "5000:1045710669157053657849499619"
    request = sent_request(httpserver)
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.headers["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert tc3_signature_ok(request, SECRET_KEY)
    body = json.loads(request.get_data())
    assert body["PhoneNumberSet"] == ["+8613800138000"]
    assert body["SmsSdkAppId"] == "1400006666"
    assert body["SignName"] == "Tencent BlueKing"
    assert body["TemplateId"] == "449739"
    assert body["TemplateParamSet"] == [CODE, "5"]
    assert body.get("SenderId") is None


def test_own_sender_and_code_only_template(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status("Ok"))
    tc = provider(
        httpserver,
        template_params=["code"],
        template_bodies={"login": "Your code is {1}"},
        region="ap-singapore",
    )

    tc.send(message(to="+6591234567", sender="ACME"))

    request = sent_request(httpserver)
    body = json.loads(request.get_data())
    assert (body["TemplateParamSet"], body["SenderId"]) == ([CODE], "ACME")
    assert request.headers["X-TC-Region"] == "ap-singapore"


def test_blank_optional_settings_count_as_absent(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status("Ok"))

    provider(httpserver, sender_id="", region=" ").send(message())

    request = sent_request(httpserver)
    assert json.loads(request.get_data()).get("SenderId") is None
    assert request.headers["X-TC-Region"] == "ap-guangzhou"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("FailedOperation.PhoneNumberInBlacklist", FailureClass.PERMANENT),
        ("InvalidParameterValue.IncorrectPhoneNumber", FailureClass.PERMANENT),
        ("FailedOperation.SignatureIncorrectOrUnapproved", FailureClass.ROUTE),
        ("FailedOperation.TemplateIncorrectOrUnapproved", FailureClass.ROUTE),
        ("InvalidParameterValue.TemplateParameterFormatError", FailureClass.ROUTE),
        ("FailedOperation.InsufficientBalanceInSmsPackage", FailureClass.ROUTE),
        ("UnsupportedOperation.UnsupportedRegion", FailureClass.ROUTE),
        ("LimitExceeded.AppCountryOrRegionInBlacklist", FailureClass.ROUTE),
        ("LimitExceeded.PhoneNumberCountLimit", FailureClass.ROUTE),
        ("LimitExceeded.AppDailyLimit", FailureClass.ROUTE),
        ("InternalError.Timeout", FailureClass.TRANSIENT),
        ("FailedOperation.SomethingNew", FailureClass.ROUTE),
    ],
)
def test_per_number_failures_on_http_200(
    httpserver: HTTPServer, code: str, expected: FailureClass
) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status(code, "refused"))

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)


@pytest.mark.parametrize(
    ("code", "seconds"),
    [
        ("LimitExceeded.PhoneNumberThirtySecondLimit", 30),
        ("LimitExceeded.PhoneNumberOneHourLimit", 3600),
        ("LimitExceeded.DeliveryFrequencyLimit", 60),
    ],
)
def test_per_number_limits_are_recipient_throttled(
    httpserver: HTTPServer, code: str, seconds: int
) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status(code, "limited"))

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (FailureClass.RECIPIENT_THROTTLED, code)
    assert error.retry_after == seconds


@pytest.mark.parametrize(
    "code",
    ["LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit"],
)
def test_daily_limits_last_until_midnight_in_china(httpserver: HTTPServer, code: str) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status(code, "limited"))

    before = int(time.time())
    error = send_failure(httpserver)
    after = int(time.time())

    assert error.failure is FailureClass.RECIPIENT_THROTTLED
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 86400
    # Sent then, the retry lands on a midnight of China Standard Time (UTC+8).
    china = 8 * 3600
    assert any((t + error.retry_after + china) % 86400 == 0 for t in range(before, after + 1))


def test_template_params_choose_the_values_and_their_order(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(send_status("Ok"))
    body = "{1}为您的{2}登录验证码，请于{3}分钟内填写。"
    tc = provider(
        httpserver, template_params=["code", "app", "minutes"], template_bodies={"login": body}
    )

    tc.send(message(app="Acme"))

    params = json.loads(sent_request(httpserver).get_data())["TemplateParamSet"]
    assert params == [CODE, "Acme", "5"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AuthFailure.SignatureFailure", FailureClass.ROUTE),
        ("AuthFailure.SecretIdNotFound", FailureClass.ROUTE),
        ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", FailureClass.ROUTE),
        ("FailedOperation.SignatureIncorrectOrUnapproved", FailureClass.ROUTE),
        ("RequestLimitExceeded", FailureClass.TRANSIENT),
        ("InternalError", FailureClass.TRANSIENT),
    ],
)
def test_request_errors(httpserver: HTTPServer, code: str, expected: FailureClass) -> None:
    httpserver.expect_oneshot_request("/").respond_with_json(request_error(code))

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "text/json",
        "text/plain",
    ],
)
def test_request_errors_are_read_whatever_json_content_type(
    httpserver: HTTPServer, content_type: str
) -> None:
    body = json.dumps(request_error("AuthFailure.SignatureFailure"))
    httpserver.expect_oneshot_request("/").respond_with_data(body, content_type=content_type)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (
        FailureClass.ROUTE,
        "AuthFailure.SignatureFailure",
    )


def test_unreadable_json_body_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data(
        "{not json", content_type="application/json"
    )

    assert send_failure(httpserver).failure is FailureClass.TRANSIENT


@pytest.mark.parametrize("body", ["<html>maintenance</html>", '{"Unexpected": {}}'])
def test_unreadable_success_body_is_transient(httpserver: HTTPServer, body: str) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data(body, content_type="text/html")

    assert send_failure(httpserver).failure is FailureClass.TRANSIENT


def test_http_5xx_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data("Bad Gateway", status=502)

    assert send_failure(httpserver).failure is FailureClass.TRANSIENT


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response(json.dumps(send_status("Ok")), content_type="application/json")
    with stalled(httpserver, "/", answer) as stall:
        error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (FailureClass.TRANSIENT, "ClientNetworkError")
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_purpose_without_template_is_route(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    error = send_failure(httpserver, message(purpose="approve"))

    assert error.failure is FailureClass.ROUTE


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"secret_id": None}, "secret_id"),
        ({"secret_key": ""}, "secret_key"),
        ({"sdk_app_id": None}, "sdk_app_id"),
        ({"sign_name": "【Tencent BlueKing】"}, "sign_name"),
        ({"sign_name": " "}, "sign_name"),
        ({"templates": None}, "templates"),
        ({"template_params": ["minutes"]}, "template_params"),
        ({"template_params": ["code", "code"]}, "template_params"),
        ({"template_params": ["code", "name"]}, "template_params"),
        ({"template_bodies": {"login": "Code {2}, valid {3} minutes"}}, "template_bodies.login"),
        (
            {"template_bodies": {"login": "【BlueKing】Code {1} for {2} min"}},
            "template_bodies.login",
        ),
        ({"template_bodies": {"login": "Your code is {1}"}}, "template_bodies.login"),
        ({"template_bodies": {"signup": BODY}}, "template_bodies.signup"),
        ({"template_bodies": ["not", "a", "mapping"]}, "template_bodies"),
        ({"endpoint": "http://127.0.0.1:1/sms"}, "endpoint"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key


def status_report(report_status: str, errmsg: str, sid: str = SERIAL_NO) -> dict[str, Any]:
    """One report of Tencent Cloud's SMS status callback."""
    return {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13800138000",
        "report_status": report_status,
        "errmsg": errmsg,
        "description": "用户短信送达成功",
        "sid": sid,
    }


def test_status_callbacks_become_receipts(httpserver: HTTPServer) -> None:
    pushed = [status_report("SUCCESS", "DELIVRD"), status_report("FAIL", "MN:0001", "5000:2")]

    receipts = provider(httpserver, callback_token=TOKEN).parse_receipts(
        json_push(pushed, f"{CALLBACK}?token={TOKEN}")
    )

    assert receipts == [
        Receipt(message_id=SERIAL_NO, status="delivered", provider_code="DELIVRD"),
        Receipt(message_id="5000:2", status="undelivered", provider_code="MN:0001"),
    ]


@pytest.mark.parametrize(
    ("token", "url"),
    [
        (TOKEN, CALLBACK),
        (TOKEN, f"{CALLBACK}?token=tencent-callback-token-012345678X"),
        (None, f"{CALLBACK}?token={TOKEN}"),
    ],
    ids=["no-token", "wrong-token", "none-configured"],
)
def test_forged_status_callbacks_are_refused(
    httpserver: HTTPServer, token: str | None, url: str
) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver, callback_token=token).parse_receipts(
            json_push([status_report("SUCCESS", "DELIVRD")], url)
        )


def test_the_answer_is_the_one_tencent_asks_for(httpserver: HTTPServer) -> None:
    answer = provider(httpserver).callback_answer(1)

    assert (answer.status, json.loads(answer.body)) == (200, {"result": 0, "errmsg": "OK"})
