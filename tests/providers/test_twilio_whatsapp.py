"""WhatsApp templates in the Twilio adapter: ContentSid + ContentVariables through the twilio SDK
against the local stand-in, and the start-up refusal of WhatsApp without templates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer

from app import routing_file
from app.delivery.providers.base import FailureClass, ProviderContext
from app.delivery.providers.twilio import TwilioProvider

from .standins import CONTEXT, config_error_key, expect_failure, message, sent_request
from .test_twilio import MESSAGES, SID, TOKEN, twilio_error

EXAMPLE = Path(__file__).resolve().parents[2] / "routing.example.yaml"
AUTH_SID = "HX" + "a" * 32
LOGIN_DE_SID = "HX" + "b" * 32
TEMPLATES = {
    "*": {"en": {"content_sid": AUTH_SID}},  # an authentication template: {{1}} is the code
    "login": {"de": {"content_sid": LOGIN_DE_SID, "variables": {"code": 1, "minutes": 2}}},
}


def settings(httpserver: HTTPServer, **extra: Any) -> dict[str, Any]:
    base = {"account_sid": SID, "auth_token": TOKEN, "from_number": "+15005550006"}
    base |= {"whatsapp_from": "+14155238886", "whatsapp_templates": TEMPLATES}
    return {**base, "base_url": httpserver.url_for("/"), **extra}


def provider(httpserver: HTTPServer, **extra: Any) -> TwilioProvider:
    channels = frozenset({"sms", "whatsapp"})
    context = ProviderContext(send_timeout=2.0)
    return TwilioProvider.from_settings("t", channels, settings(httpserver, **extra), context)


def accept(httpserver: HTTPServer) -> None:
    httpserver.expect_request(MESSAGES, method="POST").respond_with_json({"sid": "SM7"}, 201)


def test_whatsapp_sends_the_template_not_a_body(httpserver: HTTPServer) -> None:
    accept(httpserver)
    assert provider(httpserver).send(message(channel="whatsapp")).message_id == "SM7"
    assert sent_request(httpserver).form.to_dict() == {
        "To": "whatsapp:+14155552671",
        "From": "whatsapp:+14155238886",
        "ContentSid": AUTH_SID,
        "ContentVariables": '{"1": "123456"}',
    }


def test_the_purposes_template_in_the_locales_language_with_its_variables(
    httpserver: HTTPServer,
) -> None:
    accept(httpserver)
    provider(httpserver).send(message(channel="whatsapp", locale="de-AT"))
    form = sent_request(httpserver).form
    assert form["ContentSid"] == LOGIN_DE_SID
    assert json.loads(form["ContentVariables"]) == {"1": "123456", "2": "10"}


def test_another_purpose_takes_the_template_for_any_purpose(httpserver: HTTPServer) -> None:
    accept(httpserver)
    provider(httpserver).send(message(channel="whatsapp", purpose="approve", locale="de"))
    assert sent_request(httpserver).form["ContentSid"] == AUTH_SID  # "*", then English


def test_no_fitting_template_is_a_route_failure_without_a_request(
    httpserver: HTTPServer,
) -> None:
    only_login = {"login": {"de": {"content_sid": LOGIN_DE_SID}}}
    adapter = provider(httpserver, whatsapp_templates=only_login)
    raised = expect_failure(adapter, message(channel="whatsapp", purpose="signup"))
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "no_template")
    assert httpserver.log == []


def test_session_messages_send_the_text_where_no_template_fits(httpserver: HTTPServer) -> None:
    accept(httpserver)
    adapter = provider(httpserver, whatsapp_templates=None, session_messages=True)
    adapter.send(message(channel="whatsapp"))
    form = sent_request(httpserver).form
    assert form["Body"] == "Your code is 123456"
    assert "ContentSid" not in form


def test_sms_still_sends_the_text(httpserver: HTTPServer) -> None:
    accept(httpserver)
    provider(httpserver).send(message())
    assert sent_request(httpserver).form.to_dict() == {
        "To": "+14155552671",
        "From": "+15005550006",
        "Body": "Your code is 123456",
    }


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (63016, FailureClass.ROUTE),  # outside the 24-hour window without a template
        (63003, FailureClass.UNREACHABLE),  # not on WhatsApp: SMS may still reach the number
        (63024, FailureClass.UNREACHABLE),
        (63032, FailureClass.UNREACHABLE),
        (63018, FailureClass.TRANSIENT),
    ],
)
def test_whatsapp_error_codes_are_classified(
    httpserver: HTTPServer, code: int, failure: FailureClass
) -> None:
    twilio_error(httpserver, code)
    raised = expect_failure(provider(httpserver), message(channel="whatsapp"), httpserver)
    assert (raised.failure, raised.provider_code) == (failure, str(code))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"whatsapp_templates": None}, "whatsapp_templates"),
        ({"whatsapp_templates": {}}, "whatsapp_templates"),
        ({"whatsapp_templates": {"login": "HX00"}}, "whatsapp_templates.login"),
        (
            {"whatsapp_templates": {"login": {"en": {"content_sid": "HX12"}}}},
            "whatsapp_templates.login.en.content_sid",
        ),
        (
            {"whatsapp_templates": {"login": {"en": {"content_sid": AUTH_SID, "variables": {}}}}},
            "whatsapp_templates.login.en.variables",
        ),
        (
            {
                "whatsapp_templates": {
                    "login": {
                        "en": {"content_sid": AUTH_SID, "variables": {"code": 1, "minutes": 1}}
                    }
                }
            },
            "whatsapp_templates.login.en.variables",
        ),
        ({"session_messages": "yes"}, "session_messages"),
    ],
)
def test_bad_whatsapp_settings_name_the_key(
    httpserver: HTTPServer, change: dict[str, Any], key: str
) -> None:
    changed, channels = {**settings(httpserver), **change}, frozenset({"sms", "whatsapp"})
    assert config_error_key(TwilioProvider.from_settings, "t", channels, changed, CONTEXT) == key


def test_sms_alone_needs_no_templates(httpserver: HTTPServer) -> None:
    accept(httpserver)
    sms_only = {**settings(httpserver), "whatsapp_templates": None}
    TwilioProvider.from_settings("t", frozenset({"sms"}), sms_only, CONTEXT).send(message())
    assert sent_request(httpserver).form["Body"] == "Your code is 123456"


def test_the_shipped_routing_example_builds_every_provider(redis_client: redis.Redis) -> None:
    env = {name: "x" * 24 for name in re.findall(r"\$\{(\w+)\}", EXAMPLE.read_text())}
    loaded = routing_file.load(EXAMPLE, ProviderContext(redis=redis_client), env)
    routing, providers = loaded.routing, loaded.providers
    assert set(providers) == set(routing.providers)
    assert "whatsapp" in providers["twilio"].channels
