"""TwilioProvider driven through the real twilio SDK against a local stand-in of api.twilio.com."""

from __future__ import annotations

import base64

import pytest
from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

from app.delivery.providers.base import (
    CallbackRequest,
    FailureClass,
    ProviderContext,
    Receipt,
    ReceiptRejected,
)
from app.delivery.providers.twilio import TwilioProvider

from .standins import CONTEXT, config_error_key, expect_failure, message, sent_request, stalled

SID = "AC" + "0" * 32
TOKEN = "auth-token-123"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{SID}/Calls.json"
RECEIPT_URL = "https://otp.example.com/receipts/twilio-main"


def settings(httpserver: HTTPServer, **extra: object) -> dict[str, object]:
    # WhatsApp as plain text within the 24-hour window; templates: test_twilio_whatsapp.py.
    base = {"account_sid": SID, "auth_token": TOKEN, "from_number": "+15005550006"}
    return {**base, "base_url": httpserver.url_for("/"), "session_messages": True, **extra}


def provider(
    httpserver: HTTPServer,
    timeout: float = 2.0,
    channels: str = "sms whatsapp voice",
    **extra: object,
) -> TwilioProvider:
    configured = settings(httpserver, **extra)
    context = ProviderContext(send_timeout=timeout)
    return TwilioProvider.from_settings("t", frozenset(channels.split()), configured, context)


def assert_basic_auth(request: Request) -> None:
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def twilio_error(httpserver: HTTPServer, code: int, status: int = 400) -> None:
    body = {"code": code, "message": "The 'To' number +14155552671 is not valid.", "status": status}
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(body, status=status)


def test_sms_success_returns_message_sid(httpserver: HTTPServer) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json(
        {"sid": "SM123", "status": "queued"}, status=201
    )
    result = provider(httpserver).send(message())
    assert result.message_id == "SM123"
    request = sent_request(httpserver)
    assert_basic_auth(request)
    assert request.form.to_dict() == {
        "To": "+14155552671",
        "From": "+15005550006",
        "Body": "Your code is 123456",
    }


def test_messaging_service_and_status_callback(httpserver: HTTPServer) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM1"}, 201)
    service = provider(
        httpserver,
        channels="sms",
        from_number="",
        messaging_service_sid="MG1",
        status_callback=RECEIPT_URL,
    )
    service.send(message())
    form = sent_request(httpserver).form
    assert form["MessagingServiceSid"] == "MG1"
    assert form["StatusCallback"] == RECEIPT_URL
    assert "From" not in form


def test_tenant_sender_overrides_from_number(httpserver: HTTPServer) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM2"}, 201)
    provider(httpserver).send(message(sender="+15005550099"))
    assert sent_request(httpserver).form["From"] == "+15005550099"


def test_whatsapp_prefixes_both_numbers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM3"}, 201)
    provider(httpserver, whatsapp_from="+14155238886").send(message(channel="whatsapp"))
    form = sent_request(httpserver).form
    assert form["To"] == "whatsapp:+14155552671"
    assert form["From"] == "whatsapp:+14155238886"


def test_voice_call_reads_digits_twice(httpserver: HTTPServer) -> None:
    httpserver.expect_request(CALLS, method="POST").respond_with_json({"sid": "CA1"}, 201)
    voice = message(channel="voice", locale="de", text="Ihr Code lautet 123456")
    assert provider(httpserver).send(voice).message_id == "CA1"
    form = sent_request(httpserver).form
    assert (form["To"], form["From"]) == ("+14155552671", "+15005550006")
    say = '<Say language="de-DE">Ihr Code lautet 1, 2, 3, 4, 5, 6</Say>'
    assert form["Twiml"].count(say) == 2


def test_base_url_wins_over_twilio_edge_and_region(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM4"}, 201)
    assert provider(httpserver).send(message()).message_id == "SM4"


@pytest.mark.parametrize(
    ("code", "status", "failure"),
    [
        (21211, 400, FailureClass.PERMANENT),
        (21610, 400, FailureClass.PERMANENT),
        (21614, 400, FailureClass.PERMANENT),
        (21408, 400, FailureClass.ROUTE),
        (21612, 400, FailureClass.ROUTE),
        (20003, 401, FailureClass.ROUTE),
        (20429, 429, FailureClass.TRANSIENT),
        (63018, 400, FailureClass.TRANSIENT),  # the sender's or account's limit
        (20500, 500, FailureClass.TRANSIENT),
        (14107, 400, FailureClass.RECIPIENT_THROTTLED),
    ],
)
def test_error_codes_are_classified(
    httpserver: HTTPServer, code: int, status: int, failure: FailureClass
) -> None:
    twilio_error(httpserver, code, status)
    error = expect_failure(provider(httpserver), message(), httpserver)
    assert (error.failure, error.provider_code) == (failure, str(code))
    assert "4155552671" not in error.message
    throttled = failure is FailureClass.RECIPIENT_THROTTLED
    assert error.retry_after == (30 if throttled else None)


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    answer = Response('{"sid": "SM5"}', status=201, content_type="application/json")
    with stalled(httpserver, MESSAGES, answer) as stall:
        error = expect_failure(provider(httpserver, timeout=0.2), message())
    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient(httpserver: HTTPServer) -> None:
    unreachable = provider(httpserver, base_url="http://127.0.0.1:1")
    assert expect_failure(unreachable, message()).failure is FailureClass.TRANSIENT


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"account_sid": ""}, "account_sid"),
        ({"auth_token": ""}, "auth_token"),
        ({"from_number": ""}, "from_number"),
        ({"auth_token": "  "}, "auth_token"),  # blank counts as absent
    ],
)
def test_missing_setting_names_the_key(
    httpserver: HTTPServer, change: dict[str, object], key: str
) -> None:
    changed, sms = {**settings(httpserver), **change}, frozenset({"sms"})
    assert config_error_key(TwilioProvider.from_settings, "t", sms, changed, CONTEXT) == key


def test_voice_needs_a_from_number(httpserver: HTTPServer) -> None:
    only_service = {**settings(httpserver), "from_number": "", "messaging_service_sid": "MG1"}
    voice = frozenset({"voice"})
    key = config_error_key(TwilioProvider.from_settings, "t", voice, only_service, CONTEXT)
    assert key == "from_number"


def status_callback(form: dict[str, str], token: str = TOKEN) -> CallbackRequest:
    signature = RequestValidator(token).compute_signature(RECEIPT_URL, form)
    headers = {"X-Twilio-Signature": signature}
    return CallbackRequest(url=RECEIPT_URL, headers=headers, form=form, body=b"")


def test_signed_receipt_is_accepted(httpserver: HTTPServer) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    receipts = provider(httpserver).parse_receipts(status_callback(form))
    assert receipts == [Receipt(message_id="SM1", status="undelivered", provider_code="30003")]


def test_receipt_of_a_throttled_recipient_says_so(httpserver: HTTPServer) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "14107"}
    [receipt] = provider(httpserver).parse_receipts(status_callback(form))
    assert (receipt.status, receipt.failure) == ("failed", FailureClass.RECIPIENT_THROTTLED)


def test_intermediate_status_yields_nothing(httpserver: HTTPServer) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "sent"}
    assert provider(httpserver).parse_receipts(status_callback(form)) == []


def test_forged_receipt_is_rejected(httpserver: HTTPServer) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    with pytest.raises(ReceiptRejected):
        provider(httpserver).parse_receipts(status_callback(form, token="not-the-token"))


def test_status_callbacks_are_answered_with_no_content(httpserver: HTTPServer) -> None:
    answer = provider(httpserver).callback_answer(1)

    assert (answer.status, answer.body) == (204, "")
