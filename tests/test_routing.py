"""The scheduling rules, table-driven over many destinations, through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from .conftest import TRUSTED

ROUTING = Path(__file__).with_name("routing.yaml")


@pytest.fixture
def routed(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(OTP_ROUTING_FILE=str(ROUTING), OTP_RESEND_COOLDOWN="0")


def open_circuit(app: Flask, provider: str, country: str | None = None) -> None:
    """Feed failures through the real breaker until it opens."""
    health = app.extensions["otp"].health
    for _ in range(health.settings.failures):
        if country is None:  # a provider down everywhere: transient failures
            health.record_now(provider, "ZZ", "transient")
        else:  # a provider that cannot reach one country: route failures
            health.record_now(provider, country, "route")


# phone, channel, circuits to open [(provider, country or None)], expected provider, own numbers
ROUTED = [
    # Rule 3: scheduled countries use their resources, by priority then weight (CN: 70/30 draw).
    ("+8613800138000", "sms", [], {"cn_a", "cn_b"}, False),
    ("+8613912345678", "sms", [], {"cn_a", "cn_b"}, False),
    ("+8618612345678", "sms", [], {"cn_a", "cn_b"}, False),
    ("+8613800138001", "sms", [("cn_a", None), ("cn_b", None)], {"cn_c"}, False),
    ("+4915123456789", "sms", [], {"eu_main"}, False),
    ("+34612345678", "sms", [], {"eu_main"}, False),
    ("+393123456789", "voice", [], {"eu_main"}, False),
    ("+31612345678", "sms", [("eu_main", None)], {"eu_backup"}, False),
    # A circuit open for one country only leaves the provider usable elsewhere.
    ("+48512345678", "sms", [("eu_main", "PL")], {"eu_backup"}, False),
    ("+46701234567", "sms", [("eu_main", "PL")], {"eu_main"}, False),
    # Voice: eu_backup serves sms only, so with eu_main down voice goes to own numbers.
    ("+358401234567", "voice", [("eu_main", None)], {"own_default"}, True),
    # US: equal weights, so the cheaper resource first.
    ("+12015550123", "sms", [], {"us_a"}, False),
    ("+14155552671", "voice", [], {"us_a"}, False),
    ("+12125550123", "sms", [("us_a", "US")], {"us_b"}, False),
    # Rule 4: every resource unavailable, use_own_numbers on: own numbers, marked as such.
    ("+13105550123", "sms", [("us_a", None), ("us_b", None)], {"own_default"}, True),
    ("+6591234567", "sms", [("sea", None)], {"own_default"}, True),
    # SEA region group.
    ("+66812345678", "sms", [], {"sea"}, False),
    ("+84912345678", "sms", [], {"sea"}, False),
    ("+639171234567", "sms", [], {"sea"}, False),
    ("+60123456789", "sms", [], {"sea"}, False),
    # Rule 5: countries without scheduling go through their own numbers (GB has its own).
    ("+447400123456", "sms", [], {"own_gb"}, True),
    ("+61412345678", "sms", [], {"own_default"}, True),
    ("+819012345678", "sms", [], {"own_default"}, True),
    ("+27821234567", "voice", [], {"own_default"}, True),
    ("+201001234567", "sms", [], {"own_default"}, True),
    ("+971501234567", "sms", [], {"own_default"}, True),
    # Rule 7: WhatsApp for BR goes to its resource; when that is down, falls back to SMS
    # (BR has no SMS resource, so use_own_numbers routes the SMS through own numbers).
    ("+5511912345678", "whatsapp", [], {"wa"}, False),
    ("+5511987654321", "whatsapp", [("wa", None)], {"own_default"}, True),
    # Quota per minute not used up yet.
    ("+919876543210", "sms", [], {"in_quota"}, False),
]


@pytest.mark.parametrize(("phone", "channel", "circuits", "providers", "own"), ROUTED)
def test_route(
    routed: Flask,
    phone: str,
    channel: str,
    circuits: list[tuple[str, str | None]],
    providers: set[str],
    own: bool,
) -> None:
    for provider, country in circuits:
        open_circuit(routed, provider, country)
    response = routed.test_client().post("/otp/request", json={"phone": phone, "channel": channel})
    assert response.status_code == 202, response.get_json()
    route = response.get_json()["route"]
    assert route["provider"] in providers
    assert route["own_numbers"] is own


# phone, channel, circuits, status, error code, reason fragment
REFUSED = [
    # Rule 4 with the switch off (CN by its per-country override, FR likewise).
    (
        "+8613800138000",
        "sms",
        [("cn_a", None), ("cn_b", None), ("cn_c", None)],
        422,
        "no_route",
        "use_own_numbers is off",
    ),
    ("+33612345678", "sms", [("eu_main", None)], 422, "no_route", "use_own_numbers is off"),
    ("+33612345678", "voice", [("eu_main", "FR")], 422, "no_route", "use_own_numbers is off"),
    # Rule 2: blocked countries.
    ("+989121234567", "sms", [], 403, "country_not_allowed", ""),
    ("+5351234567", "sms", [], 403, "country_not_allowed", ""),
    ("+963944567890", "sms", [], 403, "country_not_allowed", ""),
]


@pytest.mark.parametrize(("phone", "channel", "circuits", "status", "code", "reason"), REFUSED)
def test_refused_and_nothing_stored(
    routed: Flask,
    redis_client: redis.Redis,
    phone: str,
    channel: str,
    circuits: list[tuple[str, str | None]],
    status: int,
    code: str,
    reason: str,
) -> None:
    for provider, country in circuits:
        open_circuit(routed, provider, country)
    client = routed.test_client()
    response = client.post("/otp/request", json={"phone": phone, "channel": channel})
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code
    if code == "no_route":
        assert error["details"]["country"] == phone_country(phone)
        assert error["details"]["channel"] == channel
        assert reason in error["details"]["reason"]
    # Nothing stored, nothing sent, nothing counted against the destination's quota.
    assert redis_client.keys("otp:{*}:[vqk]*") == []  # no verification, quota or answer
    assert client.get("/dev/outbox").get_json()["messages"] == []


def phone_country(phone: str) -> str:
    return {"+86": "CN", "+33": "FR"}[phone[:3]]


def test_quota_used_up_moves_to_own_numbers(routed: Flask) -> None:
    client = routed.test_client()
    first = client.post("/otp/request", json={"phone": "+919876543210"}).get_json()
    second = client.post("/otp/request", json={"phone": "+919876543211"}).get_json()
    assert first["route"]["provider"] == "in_quota"
    assert second["route"] == {
        "provider": "own_default",
        "own_numbers": True,
        "channel": "sms",
        "attempts": 1,
    }


def test_weighted_draw_is_stable_per_verification_and_follows_the_weights(routed: Flask) -> None:
    router = routed.extensions["otp"].router
    picks = [router.plan("CN", "sms", f"seed-{n}").steps[0].provider for n in range(2000)]
    share = picks.count("cn_a") / len(picks)
    assert 0.65 < share < 0.75
    assert {router.plan("CN", "sms", "same-id").steps[0].provider for _ in range(20)} == {
        router.plan("CN", "sms", "same-id").steps[0].provider
    }
    assert router.plan("CN", "sms", "x").steps[-1].provider == "cn_c"  # priority 2 last


def test_resend_rotates_away_from_the_provider_that_delivered(routed: Flask) -> None:
    client = routed.test_client()
    first = client.post("/otp/request", json={"phone": "+12015550123"}).get_json()
    second = client.post("/otp/request", json={"phone": "+12015550123"}).get_json()
    third = client.post("/otp/request", json={"phone": "+12015550123"}).get_json()
    assert len({first["id"][:14], second["id"][:14], third["id"][:14]}) == 1  # one verification
    assert first["route"]["provider"] == "us_a"
    assert second["route"]["provider"] == "us_b"
    assert third["route"]["provider"] == "us_a"


def test_a_circuit_opened_by_one_app_is_seen_by_another(
    routed: Flask, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    other = make_app(OTP_ROUTING_FILE=str(ROUTING))
    open_circuit(routed, "eu_main")
    response = other.test_client().post("/otp/request", json={"phone": "+4915123456789"})
    assert response.get_json()["route"]["provider"] == "eu_backup"
    assert other.extensions["otp"].health.states("eu_main") == "open"


def test_explain_command_prints_the_plan_without_sending(routed: Flask) -> None:
    open_circuit(routed, "cn_a")
    result = routed.test_cli_runner().invoke(args=["otp", "route", "+8613800138000"])
    assert result.exit_code == 0, result.output
    assert "CN" in result.output
    assert "scheduling: on" in result.output
    assert "  - cn_a (sms): circuit open" in result.output
    assert "cn_b" in result.output
    assert routed.test_client().get("/dev/outbox").get_json()["messages"] == []


def test_explain_command_reports_no_route(routed: Flask) -> None:
    for provider in ("cn_a", "cn_b", "cn_c"):
        open_circuit(routed, provider)
    result = routed.test_cli_runner().invoke(args=["otp", "route", "+8613800138000"])
    assert result.exit_code == 1
    assert "no_route" in result.output
    assert "use_own_numbers is off" in result.output


def test_status_shows_the_route_explanation(routed: Flask) -> None:
    client: FlaskClient = routed.test_client()
    started = client.post("/otp/request", json={"phone": "+4915123456789"}).get_json()
    status = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()
    assert status["attempts"][0]["provider"] == "eu_main"
    assert status["attempts"][0]["own_numbers"] is False


def test_status_explains_the_route_now(routed: Flask) -> None:
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": "+8613800138000"}).get_json()
    open_circuit(routed, "cn_c")
    route = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["route"]
    assert route["country"] == "CN"
    assert route["scheduled"] is True
    # The resend plan puts the provider that delivered last at the end.
    assert route["steps"][-1]["provider"] == started["route"]["provider"]
    assert route["skipped"] == [{"provider": "cn_c", "channel": "sms", "reason": "circuit open"}]


@pytest.fixture
def switched_off(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    """The scheduler tests' file with scheduling's master switch off."""
    routing = tmp_path / "routing.yaml"
    text = ROUTING.read_text()
    assert "scheduling:\n  use_own_numbers: true\n" in text
    routing.write_text(text.replace("scheduling:\n", "scheduling:\n  enabled: false\n", 1))
    return make_app(OTP_ROUTING_FILE=str(routing))


@pytest.mark.parametrize(
    ("phone", "provider"),
    [
        ("+8613800138000", "own_default"),  # scheduled, use_own_numbers off: still own numbers
        ("+4915123456789", "own_default"),  # scheduled through the EU region group
        ("+12015550123", "own_default"),
        ("+447400123456", "own_gb"),  # not scheduled anyway: its own numbers
    ],
)
def test_the_master_switch_sends_every_country_through_own_numbers(
    switched_off: Flask, phone: str, provider: str
) -> None:
    response = switched_off.test_client().post("/otp/request", json={"phone": phone})
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["route"]["provider"] == provider
    assert response.get_json()["route"]["own_numbers"] is True


def test_route_command_says_the_master_switch_is_off(switched_off: Flask) -> None:
    result = switched_off.test_cli_runner().invoke(args=["otp", "route", "+8613800138000"])
    assert result.exit_code == 0, result.output
    assert "scheduling: off by the master switch (scheduling.enabled: false)" in result.output
    assert "own_default (sms) [own numbers]: scheduling is switched off" in result.output


def test_route_command_offers_the_real_channels(routed: Flask) -> None:
    result = routed.test_cli_runner().invoke(
        args=["otp", "route", "+15005550006", "--channel", "fax"]
    )
    assert result.exit_code == 2
    assert "'fax' is not one of 'email', 'sms', 'voice', 'wechat', 'whatsapp'" in result.output
