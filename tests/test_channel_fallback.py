"""Channel fallback only to a channel the number can receive: no SMS to a fixed line, whether
the send is inline, queued, explained by `flask otp route` or shown by GET /otp/<id>."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer

from .conftest import TRUSTED

LANDLINE = "+493012345678"  # Berlin, a fixed line
MOBILE = "+4915123456789"
ROUTING = """
channels: [sms, voice]
providers:
  voice_gw: {type: http, channels: [voice], settings: {url: "%(base)s/voice", secret: "${GW}"}}
  sms_gw: {type: http, channels: [sms], settings: {url: "%(base)s/sms", secret: "${GW}"}}
scheduling:
  countries:
    DE:
      use_own_numbers: false
      resources: [{provider: voice_gw}, {provider: sms_gw}]
channel_fallbacks: {voice: sms}
"""


@pytest.fixture
def make_routed(routed_app: Callable[..., Flask], httpserver: HTTPServer) -> Callable[..., Flask]:
    """An app whose voice gateway is down and whose SMS gateway works."""
    httpserver.expect_request("/voice").respond_with_json({}, status=503)
    httpserver.expect_request("/sms").respond_with_json({"message_id": "sms-1"})
    routing = ROUTING % {"base": httpserver.url_for("").rstrip("/")}
    env = {"GW": "gateway-secret-0123456789abcdef"}
    return lambda **overrides: routed_app(routing, env, **overrides)


def paths(httpserver: HTTPServer) -> list[str]:
    return [request.path for request, _ in httpserver.log]


def test_a_landline_gets_no_sms_when_voice_fails(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    client = make_routed().test_client()

    response = client.post("/otp/request", json={"phone": LANDLINE, "channel": "voice"})

    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "delivery_failed"
    assert [a["provider"] for a in error["details"]["attempts"]] == ["voice_gw"]
    assert paths(httpserver) == ["/voice"]
    route = client.get(f"/otp/{error['details']['id']}", headers=TRUSTED).get_json()["route"]
    assert {step["channel"] for step in route["steps"]} == {"voice"}


def test_a_mobile_falls_back_to_sms_when_voice_fails(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    client = make_routed().test_client()

    response = client.post("/otp/request", json={"phone": MOBILE, "channel": "voice"})

    assert response.status_code == 202
    assert response.get_json()["route"]["channel"] == "sms"
    assert paths(httpserver) == ["/voice", "/sms"]


def test_a_queued_send_to_a_landline_gets_no_sms(
    make_routed: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    app = make_routed(OTP_DELIVERY="queue")
    client = app.test_client()
    started = client.post("/otp/request", json={"phone": LANDLINE, "channel": "voice"})
    assert started.status_code == 202
    verification_id = started.get_json()["id"]
    route = client.get(f"/otp/{verification_id}", headers=TRUSTED).get_json()["route"]
    assert [step["channel"] for step in route["steps"]] == ["voice"]

    # What `flask otp worker` runs for the job, in this process.
    outcome = app.extensions["otp"].service.deliver_queued(verification_id, 1)

    assert outcome == "delivery_failed"
    assert paths(httpserver) == ["/voice"]


@pytest.mark.parametrize(
    ("number", "channels"), [(LANDLINE, ["voice"]), (MOBILE, ["voice", "sms"])]
)
def test_the_route_command_lists_only_what_the_number_can_receive(
    make_routed: Callable[..., Flask], httpserver: HTTPServer, number: str, channels: list[str]
) -> None:
    runner = make_routed().test_cli_runner()

    result = runner.invoke(args=["otp", "route", number, "--channel", "voice"])

    assert result.exit_code == 0, result.output
    steps = re.findall(r"^  \d+\. (\S+) \((\w+)\)", result.output, re.MULTILINE)
    assert [channel for _, channel in steps] == channels
    assert paths(httpserver) == []


def test_the_route_command_refuses_sms_to_a_landline(make_routed: Callable[..., Flask]) -> None:
    result = make_routed().test_cli_runner().invoke(args=["otp", "route", LANDLINE])

    assert result.exit_code == 1
    assert "unsupported_channel" in result.output
