"""SnsProvider driven through the real boto3 client: moto for success, a local SNS stand-in
answering SNS's query-protocol XML for the failure classes."""

from __future__ import annotations

import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from pytest_httpserver import HTTPServer
from werkzeug import Response

from app.delivery.providers.base import FailureClass, ProviderContext
from app.delivery.providers.sns import SnsProvider

from .standins import CONTEXT, config_error_key, expect_failure, message, sent_request, stalled

REGION = "eu-west-1"
NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
PUBLISHED = f"""<PublishResponse xmlns="{NAMESPACE}">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>
  <ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata>
</PublishResponse>"""


def settings(**extra: str) -> dict[str, str]:
    base = {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret", "region": REGION}
    return {**base, **extra}


def provider(timeout: float = 2.0, **extra: str) -> SnsProvider:
    context = ProviderContext(send_timeout=timeout)
    return SnsProvider.from_settings("sns-main", frozenset({"sms"}), settings(**extra), context)


def stand_in(httpserver: HTTPServer, timeout: float = 2.0) -> SnsProvider:
    return provider(timeout, endpoint_url=httpserver.url_for("/"))


def error_body(code: str, text: str, kind: str = "Sender") -> str:
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{text}</Message></Error><RequestId>9b1c-42</RequestId></ErrorResponse>"
    )


def answer(httpserver: HTTPServer, body: str, status: int = 200) -> None:
    httpserver.expect_request("/", method="POST").respond_with_data(
        body, status=status, content_type="text/xml"
    )


def attributes(form: dict[str, str]) -> dict[str, str]:
    """MessageAttributes.entry.N.Name / .Value.StringValue pairs of a query-protocol form."""
    names = {k.rsplit(".", 1)[0]: v for k, v in form.items() if k.endswith(".Name")}
    return {name: form[f"{prefix}.Value.StringValue"] for prefix, name in names.items()}


@mock_aws
def test_success_is_published_to_the_phone_number() -> None:
    result = provider().send(message())
    sent = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    assert sent[result.message_id] == ("+14155552671", "Your code is 123456")


def test_request_carries_sms_type_sender_and_signature(httpserver: HTTPServer) -> None:
    answer(httpserver, PUBLISHED)
    sns = provider(endpoint_url=httpserver.url_for("/"), sender_id="ACME")
    assert sns.send(message()).message_id == "567910cd-659e-55d4-8ccb-5aaf14679dc0"
    request = sent_request(httpserver)
    form = request.form.to_dict()
    assert (form["Action"], form["PhoneNumber"]) == ("Publish", "+14155552671")
    assert attributes(form) == {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": "ACME",
    }
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/sns/aws4_request, SignedHeaders=" in authorization


def test_tenant_number_becomes_the_origination_number(httpserver: HTTPServer) -> None:
    answer(httpserver, PUBLISHED)
    stand_in(httpserver).send(message(sender="+12065550100"))
    form = sent_request(httpserver).form.to_dict()
    assert attributes(form)["AWS.MM.SMS.OriginationNumber"] == "+12065550100"


@pytest.mark.parametrize(
    ("code", "text", "status", "failure"),
    [
        ("Throttling", "Rate exceeded", 400, FailureClass.TRANSIENT),
        ("ThrottlingException", "Rate exceeded", 400, FailureClass.TRANSIENT),
        ("InternalError", "Internal failure", 500, FailureClass.TRANSIENT),
        ("ServiceUnavailable", "Service unavailable", 503, FailureClass.TRANSIENT),
        (
            "InvalidParameter",
            "Invalid parameter: PhoneNumber Reason: +1415555 is not valid to publish to",
            400,
            FailureClass.PERMANENT,
        ),
        ("InvalidParameterValue", "Invalid parameter: PhoneNumber", 400, FailureClass.PERMANENT),
        ("InvalidParameter", "Invalid parameter: SenderID", 400, FailureClass.ROUTE),
        ("OptedOut", "Phone number is opted out", 400, FailureClass.PERMANENT),
        ("AuthorizationError", "Not authorized to publish", 403, FailureClass.ROUTE),
        ("InvalidClientTokenId", "The security token is invalid", 403, FailureClass.ROUTE),
    ],
)
def test_error_codes_are_classified(
    httpserver: HTTPServer, code: str, text: str, status: int, failure: FailureClass
) -> None:
    answer(httpserver, error_body(code, text), status)
    error = expect_failure(stand_in(httpserver), message(), httpserver)
    assert (error.failure, error.provider_code) == (failure, code)
    assert "1415555" not in error.message


def test_server_error_is_tried_exactly_once(httpserver: HTTPServer) -> None:
    answer(httpserver, error_body("InternalError", "Internal failure", "Receiver"), 500)
    error = expect_failure(stand_in(httpserver), message(), httpserver)
    assert error.failure is FailureClass.TRANSIENT
    assert len(httpserver.log) == 1


def test_timeout_is_transient(httpserver: HTTPServer) -> None:
    with stalled(httpserver, "/", Response(PUBLISHED, content_type="text/xml")) as stall:
        error = expect_failure(stand_in(httpserver, timeout=0.2), message())
    assert error.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient() -> None:
    unreachable = provider(endpoint_url="http://127.0.0.1:1")
    assert expect_failure(unreachable, message()).failure is FailureClass.TRANSIENT


@pytest.mark.parametrize("key", ["access_key_id", "secret_access_key", "region"])
def test_missing_setting_names_the_key(key: str) -> None:
    blank, sms = {**settings(), key: ""}, frozenset({"sms"})
    assert config_error_key(SnsProvider.from_settings, "s", sms, blank, CONTEXT) == key


def test_bad_origination_number_is_refused() -> None:
    assert config_error_key(provider, origination_number="12065550100") == "origination_number"
