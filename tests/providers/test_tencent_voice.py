"""The tencent_voice adapter through the real Tencent Cloud VMS SDK against a local stand-in of
SendCodeVoice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.base import FailureClass, Message, ProviderContext, ProviderError
from app.delivery.providers.tencent_voice import TencentVoiceProvider

from .signatures import tc3_signature_ok
from .standins import (
    TEMPLATE_FIELDS,
    config_error_key,
    expect_failure,
    sent_request,
    stalled,
    template_message,
)

SECRET_ID, SECRET_KEY = "AKIDvoiceSecretId", "voice-secret-key"
CODE = TEMPLATE_FIELDS["code"]
CALL_ID = "12582bce-403c-11eb-96b8-525400476c37"


def settings(server: HTTPServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "voice_sdk_app_id": 1400006666,  # YAML reads the bare digits as a number
        "endpoint": f"http://127.0.0.1:{server.port}",
    }
    return {**base, **overrides}


def provider(server: HTTPServer, timeout: float = 2.0, **overrides: Any) -> TencentVoiceProvider:
    context = ProviderContext(send_timeout=timeout)
    return TencentVoiceProvider.from_settings(
        "tv", frozenset({"voice"}), settings(server, **overrides), context
    )


def message(**fields: Any) -> Message:
    return template_message(**{"channel": "voice", **fields})


def answer(body: dict[str, Any]) -> dict[str, Any]:
    return {"Response": {**body, "RequestId": "91260bb8-cf91-4f3e-a81f"}}


def stand_in(server: HTTPServer, body: dict[str, Any]) -> None:
    """Answer like VMS, but only to a correctly signed SendCodeVoice."""

    def handler(request: Request) -> Response:
        assert request.headers["X-TC-Action"] == "SendCodeVoice"
        assert request.headers["X-TC-Version"] == "2020-09-02"
        assert tc3_signature_ok(request, SECRET_KEY)
        return Response(json.dumps(body), content_type="application/json")

    server.expect_oneshot_request("/", method="POST").respond_with_handler(handler)


def send_failure(server: HTTPServer, msg: Message | None = None) -> ProviderError:
    return expect_failure(provider(server, timeout=0.5), msg or message(), server)


def test_success_places_a_signed_code_call(httpserver: HTTPServer) -> None:
    stand_in(httpserver, answer({"SendStatus": {"CallId": CALL_ID, "SessionContext": "v-1"}}))

    result = provider(httpserver).send(message())

    httpserver.check_assertions()
    assert result.message_id == CALL_ID
    request = sent_request(httpserver)
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    body = json.loads(request.get_data())
    assert body["CodeMessage"] == CODE
    assert body["CalledNumber"] == "+8613800138000"
    assert body["VoiceSdkAppid"] == "1400006666"
    assert (body["PlayTimes"], body["SessionContext"]) == (2, "v-1")


def test_play_times_and_region(httpserver: HTTPServer) -> None:
    stand_in(httpserver, answer({"SendStatus": {"CallId": CALL_ID}}))

    provider(httpserver, play_times=3, region="ap-beijing").send(message())

    request = sent_request(httpserver)
    assert json.loads(request.get_data())["PlayTimes"] == 3
    assert request.headers["X-TC-Region"] == "ap-beijing"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InvalidParameterValue.CalledNumberVerifyFail", FailureClass.PERMANENT),
        ("LimitExceeded.DeliveryFrequencyLimit", FailureClass.TRANSIENT),
        ("InternalError.UpstreamError", FailureClass.TRANSIENT),
        ("FailedOperation.AccessUpstreamTimeout", FailureClass.TRANSIENT),
        ("RequestLimitExceeded", FailureClass.TRANSIENT),
        ("FailedOperation.InsufficientBalanceInVoicePackage", FailureClass.ROUTE),
        ("FailedOperation.PhonenumberUnappliedOrExpired", FailureClass.ROUTE),
        ("InternalError.RequestTimeException", FailureClass.ROUTE),
        ("UnauthorizedOperation.ServiceSuspendDueToArrears", FailureClass.ROUTE),
        ("AuthFailure.SignatureFailure", FailureClass.ROUTE),
        ("UnsupportedOperation", FailureClass.ROUTE),
        ("FailedOperation.SomethingNew", FailureClass.ROUTE),
    ],
)
def test_request_errors(httpserver: HTTPServer, code: str, expected: FailureClass) -> None:
    error = {"Code": code, "Message": f"refused +8613800138000 with {CODE}"}
    stand_in(httpserver, answer({"Error": error}))

    failure = send_failure(httpserver)

    assert (failure.failure, failure.provider_code) == (expected, code)
    assert "13800138000" not in failure.message


def test_unreadable_answer_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/").respond_with_data("<html>busy</html>", 502)

    assert send_failure(httpserver).failure is FailureClass.TRANSIENT


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    body = json.dumps(answer({"SendStatus": {"CallId": CALL_ID}}))
    with stalled(httpserver, "/", Response(body, content_type="application/json")) as stall:
        error = send_failure(httpserver)

    assert (error.failure, error.provider_code) == (FailureClass.TRANSIENT, "ClientNetworkError")
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_numbers_outside_mainland_china_are_route(httpserver: HTTPServer) -> None:
    # No handler is registered: had a request gone out, it would have come back TRANSIENT.
    error = send_failure(httpserver, message(to="+14155552671"))

    assert error.failure is FailureClass.ROUTE


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"secret_id": None}, "secret_id"),
        ({"secret_key": ""}, "secret_key"),
        ({"voice_sdk_app_id": None}, "voice_sdk_app_id"),
        ({"play_times": 4}, "play_times"),
        ({"play_times": "2"}, "play_times"),
        ({"endpoint": "http://127.0.0.1:1/vms"}, "endpoint"),
    ],
)
def test_config_errors_name_the_key(
    httpserver: HTTPServer, overrides: dict[str, Any], key: str
) -> None:
    assert config_error_key(provider, httpserver, **overrides) == key
