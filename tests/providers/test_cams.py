"""The cams adapter through the real Chat App Message Service SDK against a local stand-in of
SendChatappMessage, and its status pushes."""

from __future__ import annotations

import json
from typing import Any

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
from app.delivery.providers.cams import CamsProvider

from ..conftest import free_port
from .signatures import acs3_signature_ok
from .standins import (
    TEXT_FIELDS,
    config_error_key,
    expect_failure,
    json_push,
    sent_request,
    stalled,
)
from .standins import message as text_message

KEY_ID, KEY_SECRET = "LTAI5tCamsKeyId", "cams-key-secret"
BUSINESS_NUMBER = "8613600000000"
TOKEN = "cams-receipt-token-0123456789"
CALLBACK = "https://otp.example.com/otp/callbacks/wa"
MESSAGE_ID = "2023078469463703000003"
OK_BODY = {"Code": "OK", "Message": "OK", "MessageId": MESSAGE_ID, "RequestId": "90E63D28"}
TEMPLATES = {
    "login": {
        "en": "744c4b5c79c9432497a075bdfca36bf5",
        "zh-CN": {"code": "820561547132813184", "language": "zh_CN"},
    }
}


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": KEY_SECRET,
        "from_number": BUSINESS_NUMBER,
        "templates": TEMPLATES,
        "endpoint": f"http://127.0.0.1:{server.port}",
        "callback_token": TOKEN,
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> CamsProvider:
    context = ProviderContext(send_timeout=timeout)
    return CamsProvider.from_settings(
        "wa", frozenset({"whatsapp"}), settings(server, **overrides), context
    )


def message(**fields: Any) -> Message:
    """A WhatsApp login code to a Brazilian number."""
    return text_message(**{"channel": "whatsapp", "to": "+5511987654321", **fields})


def stand_in(server: HTTPServer, body: dict[str, Any], status: int = 200) -> None:
    """Answer like Chat App Message Service, but only to a correctly signed SendChatappMessage."""

    def handler(request: Request) -> Response:
        assert request.headers["x-acs-action"] == "SendChatappMessage"
        assert request.headers["x-acs-version"] == "2020-06-06"
        assert acs3_signature_ok(request, KEY_SECRET)
        return Response(json.dumps(body), status, content_type="application/json")

    server.expect_oneshot_request("/", method="POST").respond_with_handler(handler)


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def test_success_sends_a_signed_template_message(httpserver: HTTPServer) -> None:
    stand_in(httpserver, OK_BODY)

    result = provider(httpserver).send(message())

    httpserver.check_assertions()
    assert (result.message_id, result.fallback) == (MESSAGE_ID, None)
    params = sent_request(httpserver).args
    assert params["ChannelType"] == "whatsapp"
    assert params["Type"] == "template"
    assert params["TemplateCode"] == "744c4b5c79c9432497a075bdfca36bf5"
    assert params["Language"] == "en"
    assert params["From"] == BUSINESS_NUMBER
    assert params["To"] == "5511987654321"
    assert json.loads(params["TemplateParams"]) == {"code": TEXT_FIELDS["code"]}
    assert "FallBackId" not in params


def test_locale_own_sender_and_named_params(httpserver: HTTPServer) -> None:
    stand_in(httpserver, OK_BODY)
    wa = provider(httpserver, template_params={"code": "1", "minutes": "2"})

    wa.send(message(locale="zh_CN", sender="+85291234567"))

    params = sent_request(httpserver).args
    assert (params["TemplateCode"], params["Language"]) == ("820561547132813184", "zh_CN")
    assert params["From"] == "85291234567"
    assert json.loads(params["TemplateParams"]) == {"1": TEXT_FIELDS["code"], "2": "10"}


def test_a_locale_without_template_falls_back_to_its_language_then_english(
    httpserver: HTTPServer,
) -> None:
    stand_in(httpserver, OK_BODY)
    stand_in(httpserver, OK_BODY)
    wa = provider(httpserver, templates={"login": {**TEMPLATES["login"], "pt": "9d1f"}})

    wa.send(message(locale="pt-BR"))
    wa.send(message(locale="fr-CA"))

    languages = [request.args["Language"] for request, _ in httpserver.log]
    assert languages == ["pt", "en"]


def test_sms_fallback_is_armed_with_the_text(httpserver: HTTPServer) -> None:
    stand_in(httpserver, OK_BODY)

    result = provider(httpserver, fallback_id="S00001", fallback_after=120).send(message())

    assert result.fallback == "sms"
    params = sent_request(httpserver).args
    assert params["FallBackId"] == "S00001"
    assert params["FallBackContent"] == TEXT_FIELDS["text"]
    assert params["FallBackDuration"] == "120"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("999999", FailureClass.TRANSIENT),
        ("ERR-COMMON-001", FailureClass.TRANSIENT),
        ("Authentication.NoAuth", FailureClass.ROUTE),
        ("DetailError.TemplateNotExist", FailureClass.ROUTE),
        ("InvalidParameter.LanguageNotSupport", FailureClass.ROUTE),
        ("InvalidParameter.PhoneNumberError", FailureClass.ROUTE),
        ("ERR-OPERATION-MAAP-0065", FailureClass.ROUTE),
        ("SomethingNew", FailureClass.ROUTE),
    ],
)
def test_business_failures_on_http_200(
    httpserver: HTTPServer, code: str, expected: FailureClass
) -> None:
    stand_in(httpserver, {"Code": code, "Message": "refused 5511987654321", "RequestId": "A1"})

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)
    assert "5511987654321" not in error.message


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (503, "ServiceUnavailable", FailureClass.TRANSIENT),
        (400, "Throttling.User", FailureClass.TRANSIENT),
        (500, "CHAT.APIError", FailureClass.TRANSIENT),
        (500, "UnknownError", FailureClass.TRANSIENT),
        (404, "InvalidAccessKeyId.NotFound", FailureClass.ROUTE),
        (403, "Forbidden.RAM", FailureClass.ROUTE),
    ],
)
def test_http_errors(
    httpserver: HTTPServer, status: int, code: str, expected: FailureClass
) -> None:
    stand_in(httpserver, {"Code": code, "Message": "error", "RequestId": "A2"}, status)

    error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (expected, code)


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response(json.dumps(OK_BODY), content_type="application/json")
    with stalled(httpserver, "/", answer) as stall:
        error = send_failure(httpserver)

    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient(httpserver: HTTPServer) -> None:
    closed = provider(httpserver, timeout=0.5, endpoint=f"http://127.0.0.1:{free_port()}")

    assert expect_failure(closed, message()).failure is FailureClass.TRANSIENT


def test_purpose_without_template_is_route(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    error = send_failure(httpserver, message(purpose="approve"))

    assert (error.failure, error.provider_code) == (FailureClass.ROUTE, None)
    assert "no template" in error.message


def test_no_business_number_is_route(httpserver: HTTPServer) -> None:
    error = expect_failure(provider(httpserver, from_number=""), message(), httpserver)

    assert (error.failure, error.provider_code) == (FailureClass.ROUTE, None)
    assert "business number" in error.message


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"access_key_id": None}, "access_key_id"),
        ({"access_key_secret": ""}, "access_key_secret"),
        ({"templates": {}}, "templates"),
        ({"templates": {"login": "744c"}}, "templates.login"),
        ({"templates": {"login": {"en": ""}}}, "templates.login.en.code"),
        (
            {"templates": {"login": {"en": {"code": "7", "language": " "}}}},
            "templates.login.en.language",
        ),
        ({"template_params": {"minutes": "m"}}, "template_params"),
        ({"fallback_id": "S1", "fallback_after": 30}, "fallback_after"),
        ({"fallback_after": 120}, "fallback_id"),
        ({"callback_token": "short"}, "callback_token"),
        ({"endpoint": "ftp://127.0.0.1"}, "endpoint"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key


def status_push(reports: Any, url: str = f"{CALLBACK}?token={TOKEN}") -> CallbackRequest:
    return json_push(reports, url)


def report(status: str, **fields: Any) -> dict[str, Any]:
    """A ChatAppStatus report as the HTTP batch push sends it."""
    base = {
        "Status": status,
        "MsgFrameType": "template",
        "From": BUSINESS_NUMBER,
        "To": "5511987654321",
        "Timestamp": 1691043638000,
        "MessageId": MESSAGE_ID,
    }
    return {**base, **fields}


def test_status_pushes_become_receipts(httpserver: HTTPServer) -> None:
    failed = report("Failed", ErrorCode="131026", ErrorDescription="Message Undeliverable.")
    pushed = [report("Sent"), report("Delivered"), report("Read"), failed]

    receipts = provider(httpserver).parse_receipts(status_push(pushed))

    assert receipts == [
        Receipt(message_id=MESSAGE_ID, status="delivered"),
        Receipt(message_id=MESSAGE_ID, status="delivered"),
        Receipt(message_id=MESSAGE_ID, status="failed", provider_code="131026"),
    ]


def test_the_answer_is_the_one_alibaba_takes(httpserver: HTTPServer) -> None:
    answer = provider(httpserver).callback_answer(1)

    assert (answer.status, json.loads(answer.body)["code"]) == (200, 0)
    assert answer.content_type.startswith("application/json")


@pytest.mark.parametrize("url", [CALLBACK, f"{CALLBACK}?token=", f"{CALLBACK}?token={TOKEN[:-1]}x"])
def test_forged_status_push_is_refused(httpserver: HTTPServer, url: str) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(status_push([report("Delivered")], url))


def test_status_pushes_refused_without_a_configured_token(httpserver: HTTPServer) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver, callback_token=None).parse_receipts(status_push([report("Read")]))


def test_a_push_that_is_not_a_report_array_is_refused(httpserver: HTTPServer) -> None:
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(status_push(report("Read")))
