"""Metrics added up over gunicorn workers, JSON logs without phone numbers or codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from flask import Flask
from pytest_httpserver import HTTPServer

from .conftest import API_KEY, TRUSTED

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+4915123456789"


@pytest.fixture
def two_workers(
    gunicorn: Callable[..., str], tmp_path: Path, redis_url: str, redis_client: object
) -> str:
    """gunicorn with two workers and the metrics directory, on a flushed Redis."""
    env = {
        "REDIS_URL": redis_url,
        "OTP_LIMIT_IP_REQUEST": "1000/minute",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "OTP_API_KEYS": API_KEY,
    }
    return gunicorn(
        env, "-c", "gunicorn.conf.py", "--workers", "2", "--access-logfile", "/dev/null"
    )


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_move_and_add_up_over_two_workers(two_workers: str, tmp_path: Path) -> None:
    sent = 0
    while len(_workers_with_samples(tmp_path)) < 2 and sent < 200:
        response = requests.post(
            two_workers + "/otp/request", json={"phone": f"+4915{sent:09d}"}, timeout=5
        )
        assert response.status_code == 202
        sent += 1
    assert len(_workers_with_samples(tmp_path)) == 2, "both workers served requests"
    assert requests.get(two_workers + "/metrics", timeout=5).status_code == 401
    text = requests.get(two_workers + "/metrics", headers=TRUSTED, timeout=5).text
    assert sample(text, "otp_verifications_total", event="created") == sent
    assert sample(text, "otp_sends_total", provider="console", country="DE", outcome="sent") == sent
    assert sample(text, "otp_own_numbers_sends_total", provider="console", country="DE") == sent
    requests_total = sample(
        text, "otp_http_requests_total", endpoint="/otp/request", method="POST", status="202"
    )
    assert requests_total == sent
    timed = {"endpoint": "/otp/request", "method": "POST"}
    assert sample(text, "otp_http_request_duration_seconds_count", **timed) == sent
    assert sample(text, "otp_http_request_duration_seconds_bucket", le="5.0", **timed) == sent
    for country in ("", "DE"):
        closed = {"provider": "console", "country": country}
        assert sample(text, "otp_circuit_state", state="closed", **closed) == 1
        assert sample(text, "otp_circuit_state", state="open", **closed) == 0
    assert sample(text, "otp_provider_send_duration_seconds_count", provider="console") == sent


def _workers_with_samples(data_dir: Path) -> set[str]:
    """Worker pids that have written verification counters to the multiprocess directory."""
    return {path.stem.rsplit("_", 1)[1] for path in (data_dir / "metrics").glob("counter_*.db")}


def test_verify_outcomes_and_the_counters_of_conversion(client: object) -> None:
    from .conftest import outbox_code

    started = client.post("/otp/request", json={"phone": PHONE}).get_json()  # type: ignore[attr-defined]
    code = outbox_code(client, PHONE)  # type: ignore[arg-type]
    client.post("/otp/verify", json={"id": started["id"], "code": code})  # type: ignore[attr-defined]
    text = client.get("/metrics", headers=TRUSTED).get_data(as_text=True)  # type: ignore[attr-defined]
    assert sample(text, "otp_verify_outcomes_total", outcome="approved") >= 1
    route = {"provider": "console", "country": "DE", "channel": "sms"}
    approved = sample(text, "otp_approvals_total", **route)
    assert 0 < approved <= sample(text, "otp_sends_total", outcome="sent", **route)
    assert "otp_conversion_ratio" not in text  # conversion is left to PromQL


ROUTING = """
providers:
  gateway: {type: http, channels: [sms], settings: {url: "%s", secret: "${GW_SECRET}"}}
own_numbers:
  default: [{provider: gateway}]
"""


def test_logs_are_json_and_never_carry_the_phone_or_the_code(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GW_SECRET", "gateway-secret-0123456789")
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING % httpserver.url_for("/send"))
    httpserver.expect_request("/send").respond_with_json({"message_id": "gw-1"})
    client = make_app(OTP_ROUTING_FILE=str(routing)).test_client()
    capfd.readouterr()

    started = client.post(
        "/otp/request", json={"phone": PHONE}, headers={"X-Request-ID": "req-abc-123"}
    )
    assert started.headers["X-Request-ID"] == "req-abc-123"
    code = json.loads(httpserver.log[0][0].data)["code"]
    client.post("/otp/verify", json={"id": started.get_json()["id"], "code": "000000"})
    client.post("/otp/verify", json={"phone": PHONE, "code": code}, headers=TRUSTED)
    client.get(f"/otp/{PHONE}")  # a phone number in a path is masked too
    client.get("/dev/outbox?to=" + PHONE.replace("+", "%2B"))  # and in a query string

    logged = capfd.readouterr().err
    assert PHONE not in logged
    assert PHONE[1:] not in logged
    assert code not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    requests_logged = [line for line in lines if line["message"] == "request"]
    assert len(requests_logged) == 5
    first = requests_logged[0]
    assert first["request_id"] == "req-abc-123"
    assert first["status"] == 202
    assert first["verification_id"] == started.get_json()["id"]
    # The request's line is the access log: what gunicorn's would have said, masked.
    assert first["method"] == "POST"
    assert first["path"] == "/otp/request"
    assert first["bytes"] == len(started.data)
    assert first["client"] == "127.0.0.1"
    assert first["latency_ms"] > 0
    assert requests_logged[3]["path"] == "/otp/+49151****6789"
    assert requests_logged[4]["query"] == "to=%2B49151****6789"
    attempts = [line for line in lines if line["message"] == "send attempt"]
    assert attempts[0]["provider"] == "gateway"
    assert attempts[0]["country"] == "DE"
    assert attempts[0]["request_id"] == "req-abc-123"


def test_a_request_id_is_made_when_none_is_given(client: object) -> None:
    response = client.get("/healthz")  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
