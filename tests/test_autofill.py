"""Codes that fill themselves in: Android's SMS Retriever hash and the WebOTP / iOS line, on
the text that reaches the provider, for a first send, a resend and a queued send."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app import routing_file, settings, worker
from app.delivery import autofill
from app.delivery.autofill import Domains
from app.delivery.providers.base import ProviderContext
from app.delivery.sms_text import octets, segments
from app.delivery.templates import Templates
from app.routing_file import RoutingError
from app.settings import SettingsError

from .test_delivery_clouds import request_code

MOBILE = "+4915123456789"
APP_HASH = "FA+9qCX9VSu"
SECRET = "gateway-secret-0123456789abcdef"
ROUTING = """
channels: [sms, voice, whatsapp]
providers:
  chat: {type: http, channels: [whatsapp], settings: {url: "%(base)s/chat", secret: "${GW}"}}
  gateway: {type: http, channels: [sms, voice], settings: {url: "%(base)s/sms", secret: "${GW}"}}
own_numbers:
  default: [{provider: chat}, {provider: gateway}]
channel_fallbacks: {whatsapp: sms}
webotp:
  login: login.example.com
  signup: null
"""
LOGIN_TEXT = "{code} is your otp-service login code. It expires in 5 minutes."


def gateway(request: Request) -> Response:
    """The tenant's SMS gateway: it takes a message whose signature checks out, as the http
    provider's documentation tells it to (HMAC-SHA256 of timestamp, dot, body)."""
    signed = request.headers["X-OTP-Timestamp"].encode() + b"." + request.get_data()
    expected = "v1=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers["X-OTP-Signature"]):
        return Response(status=401)
    return Response(json.dumps({"message_id": "gw-1"}), content_type="application/json")


@pytest.fixture
def make_routed(routed_app: Callable[..., Flask], httpserver: HTTPServer) -> Callable[..., Flask]:
    """An app sending SMS and voice through the gateway stand-in; its WhatsApp provider is
    down. OTP_WEBOTP_DOMAIN serves the purposes `webotp:` does not name."""
    httpserver.expect_request("/sms", method="POST").respond_with_handler(gateway)
    httpserver.expect_request("/chat", method="POST").respond_with_json({}, status=503)
    routing = ROUTING % {"base": httpserver.url_for("").rstrip("/")}

    def make(**overrides: Any) -> Flask:
        config = {"OTP_RESEND_COOLDOWN": "0", "OTP_WEBOTP_DOMAIN": "example.com", **overrides}
        return routed_app(routing, {"GW": SECRET}, **config)

    return make


def sent(httpserver: HTTPServer, path: str = "/sms") -> list[dict[str, Any]]:
    """The messages the stand-in took at `path`, in order."""
    return [json.loads(req.get_data()) for req, res in httpserver.log if req.path == path]


def login_sms(code: str) -> str:
    return f"{LOGIN_TEXT.format(code=code)}\n{APP_HASH}\n@login.example.com #{code}"


def test_first_send_and_resend_carry_the_hash_then_the_webotp_line(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    client = make_routed().test_client()

    started = request_code(client, phone=MOBILE, app_hash=APP_HASH)
    resent = client.post(f"/otp/{started['id']}/resend")

    assert resent.status_code == 202
    first, second = sent(httpserver)
    assert first["code"] == second["code"]
    assert first["text"] == second["text"] == login_sms(first["code"])
    # The hash closes the text's lines but for the WebOTP line, which must be the last.
    assert first["text"].splitlines()[-2:] == [APP_HASH, f"@login.example.com #{first['code']}"]


def test_queued_sends_carry_them_too(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    app = make_routed(OTP_DELIVERY="queue")
    client = app.test_client()
    queue = app.extensions["otp"].service.queue  # beside a Cluster, on OTP_QUEUE_REDIS_URL

    started = request_code(client, phone=MOBILE, app_hash=APP_HASH)
    client.post(f"/otp/{started['id']}/resend")
    assert sent(httpserver) == []  # nothing goes out before a worker runs the jobs
    with app.app_context():
        # What `flask otp worker` runs: each job's function with its arguments.
        outcomes = [worker.deliver(*job.args) for job in queue.jobs]

    assert outcomes == ["sent", "sent"]
    texts = [message["text"] for message in sent(httpserver)]
    assert texts == [login_sms(sent(httpserver)[0]["code"])] * 2


@pytest.mark.parametrize(
    ("body", "last_lines"),
    [
        ({}, ["@login.example.com #{code}"]),  # no hash asked for
        ({"purpose": "reset_password"}, ["@example.com #{code}"]),  # OTP_WEBOTP_DOMAIN
        ({"purpose": "signup", "app_hash": APP_HASH}, [APP_HASH]),  # `signup: null`
        ({"purpose": "signup"}, []),
    ],
)
def test_each_purpose_gets_its_own_domain(
    make_routed: Callable[..., Flask],
    httpserver: HTTPServer,
    body: dict[str, str],
    last_lines: list[str],
) -> None:
    request_code(make_routed().test_client(), phone=MOBILE, **body)

    [message] = sent(httpserver)
    lines = message["text"].split("\n")
    assert lines[1:] == [line.format(code=message["code"]) for line in last_lines]


def test_only_sms_texts_carry_them(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    client = make_routed().test_client()

    voice = request_code(
        client, phone=MOBILE, channel="voice", purpose="reset_password", app_hash=APP_HASH
    )
    chat = request_code(client, phone=MOBILE, channel="whatsapp", app_hash=APP_HASH)

    assert (voice["route"]["channel"], chat["route"]["channel"]) == ("voice", "sms")
    spoken, fallback = sent(httpserver)
    assert (spoken["channel"], fallback["channel"]) == ("voice", "sms")
    assert "\n" not in spoken["text"]
    [refused] = sent(httpserver, "/chat")  # WhatsApp's attempt had the plain text
    assert refused["text"] == LOGIN_TEXT.format(code=refused["code"])
    assert fallback["text"] == login_sms(fallback["code"])  # its SMS fallback has the lines


def test_the_hash_is_stored_only_when_given(make_routed: Callable[..., Flask]) -> None:
    app = make_routed()
    client = app.test_client()
    services = app.extensions["otp"]

    hashed = request_code(client, phone=MOBILE, app_hash=APP_HASH)
    plain = request_code(client, phone=MOBILE, purpose="signup")

    stored = [
        services.redis.hgetall(services.service.codes.parse_id(started["id"]).key)
        for started in (hashed, plain)
    ]
    assert stored[0][b"ah"] == APP_HASH.encode()
    assert not {b"ah", b"fn"} & stored[1].keys()


@pytest.mark.parametrize(
    "app_hash", ["FA+9qCX9VS", "FA+9qCX9VSuX", "FA-9qCX9VSu", "FA+9qCX9VSu\n", 12345678901]
)
def test_a_malformed_hash_is_refused(client: FlaskClient, app_hash: Any) -> None:
    answer = client.post("/otp/request", json={"phone": MOBILE, "app_hash": app_hash})

    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "app_hash" in error["details"]["fields"]


def test_the_console_outbox_shows_the_final_text(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_WEBOTP_DOMAIN="Login.Example.COM").test_client()

    request_code(client, phone=MOBILE, app_hash=APP_HASH)

    [message] = client.get("/dev/outbox", query_string={"to": MOBILE}).get_json()["messages"]
    code = message["text"].split()[0]
    assert message["text"] == login_sms(code)


def test_an_sms_too_long_for_the_retriever_is_sent_and_logged(
    make_routed: Callable[..., Flask], httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_routed().test_client()

    ru = {"app_hash": APP_HASH, "locale": "ru"}

    with caplog.at_level(logging.WARNING, "app.delivery.dispatch"):
        request_code(client, phone=MOBILE, purpose="reset_password", **ru)
        request_code(client, phone=MOBILE, app_hash=APP_HASH)
        request_code(client, phone=MOBILE, purpose="approve", channel="voice", **ru)  # no SMS

    long, short, spoken = sent(httpserver)
    assert spoken["channel"] == "voice"
    assert octets(long["text"]) > autofill.RETRIEVER_BYTES >= octets(short["text"])
    assert APP_HASH in long["text"].split("\n")
    warnings = [r.getMessage() for r in caplog.records if "SMS Retriever" in r.getMessage()]
    assert warnings == [
        "SMS text reset_password.ru over 140 bytes with the app hash: the SMS Retriever skips it"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("login.example.com", "login.example.com"),
        ("Login.Example.COM", "login.example.com"),
        ("localhost", "localhost"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("https://login.example.com", None),
        ("login.example.com:8443", None),
        ("login.example.com.", None),
        ("-login.example.com", None),
        ("bücher.example", None),
        ("a" * 64 + ".example", None),
        ("", None),
    ],
)
def test_webotp_domains(value: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="is not a host name"):
            autofill.check_domain(value)
    else:
        assert autofill.check_domain(value) == expected


def test_a_bad_domain_setting_stops_start_up() -> None:
    with pytest.raises(SettingsError) as caught:
        settings.load({"OTP_ENV": "development", "OTP_WEBOTP_DOMAIN": "https://example.com"})
    assert caught.value.problems == [
        "OTP_WEBOTP_DOMAIN='https://example.com': 'https://example.com' is not a host name like "
        "login.example.com"
    ]


@pytest.mark.parametrize(
    ("webotp", "key", "problem"),
    [
        ("{login: 'login example'}", "webotp.login", "is not a host name"),
        ("{Login: example.com}", "webotp.Login", "a purpose is"),
        ("[example.com]", "webotp", "must be a mapping"),
    ],
)
def test_a_bad_webotp_section_names_the_key(
    tmp_path: Path, webotp: str, key: str, problem: str
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "providers: {console: {type: console}}\n"
        "own_numbers: {default: [{provider: console}]}\n"
        f"webotp: {webotp}\n"
    )
    with pytest.raises(RoutingError) as caught:
        routing_file.load(path, ProviderContext(), {})
    [line] = caught.value.problems
    assert line.startswith(f"{path}: {key}: ")
    assert problem in line


def tenant_warnings(texts: dict[str, dict[str, str]], limit: int) -> list[str]:
    """The start-up check's warnings about the tenant's texts, with a 6-digit code."""
    domains = Domains("example.com", {"signup": None, "login": "a-much-longer-name.example.com"})
    found = Templates("otp-service", texts, domains).too_long(6, limit)
    return [line for line in found if line.startswith("templates.")]


def test_the_segment_check_counts_the_hash_and_the_webotp_line() -> None:
    # 148 GSM-7 characters with the code; 160 with the hash line: still one segment.
    text = "{code} " + "x" * 141
    assert segments(text.format(code="123456") + "\n" + APP_HASH) == ("GSM-7", 1)
    texts = {"approve": {"en": text}, "signup": {"en": text}, "*": {"en": text}}

    # approve gets OTP_WEBOTP_DOMAIN's line, signup none, and `*` the longest domain's.
    assert tenant_warnings(texts, 1) == [
        "templates.approve.en: 2 GSM-7 segments",
        "templates.*.en: 2 GSM-7 segments",
    ]
    # 254 + 12 + 40 (`\n@a-much-longer-name.example.com #123456`) fills two segments.
    assert tenant_warnings({"*": {"en": text + "y" * 106}}, 2) == []
    assert tenant_warnings({"*": {"en": text + "y" * 107}}, 2) == [
        "templates.*.en: 3 GSM-7 segments"
    ]


def test_byte_counts() -> None:
    assert octets("x" * 160) == 140
    assert octets("x" * 161) == 141  # 1127 bits
    assert octets("{" * 80) == 140  # extension characters take two septets
    assert octets("ж" * 70) == 140
    assert octets("😀" * 35) == 140  # a surrogate pair each
