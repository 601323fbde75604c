"""Several service instances (separate gunicorn masters) sharing one Redis act as one service."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from app.verification.codes import Codes
from app.verification.tokens import generate_pem

from .test_delivery import ROUTING, TWILIO_TOKEN
from .test_delivery import SECRET as GATEWAY_SECRET
from .test_gunicorn import _servers_in

SECRET = "instances-secret-0123456789abcdef"
PHONE = "+4915123456789"


@pytest.fixture
def instances(
    gunicorn: Callable[..., str], tmp_path: Path, redis_url: str, redis_client: object
) -> Callable[..., list[str]]:
    """start(**env) -> the base URLs of two gunicorn masters, each with its own data directory,
    sharing the Redis under test and the secrets (as instances on two machines would)."""

    def start(**extra: str) -> list[str]:
        shared = {
            "REDIS_URL": redis_url,
            "OTP_SECRET": SECRET,
            "OTP_SIGNING_KEY": generate_pem(),
            "OTP_LIMIT_IP_REQUEST": "10000/minute",
            "OTP_LIMIT_IP_VERIFY": "10000/minute",
            "OTP_HEALTH_CACHE_SECONDS": "0",
            **extra,
        }
        urls = []
        for name in ("a", "b"):
            env = {**shared, "OTP_DATA_DIR": str(tmp_path / name)}
            urls.append(gunicorn(env, "--workers", "2", "--access-logfile", "/dev/null"))
        return urls

    return start


def test_exactly_one_of_100_correct_codes_split_over_two_instances_is_approved(
    instances: Callable[..., list[str]], tmp_path: Path
) -> None:
    first, second = instances()
    started = requests.post(first + "/otp/request", json={"phone": PHONE}, timeout=10).json()
    code = Codes(SECRET, 6, {}).code(started["id"], PHONE)
    body = {"id": started["id"], "code": code}
    barrier = threading.Barrier(100)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def submit(base: str) -> None:
        barrier.wait()
        status = requests.post(base + "/otp/verify", json=body, timeout=30).status_code
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=submit, args=((first, second)[n % 2],)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == {200: 1, 404: 99}
    # With REDIS_URL set, neither instance started an embedded Redis of its own.
    for name in ("a", "b"):
        assert not (tmp_path / name / "redis.sock").exists()
        assert _servers_in(tmp_path / name) == 0


def test_a_circuit_opened_through_one_instance_is_seen_by_the_other(
    instances: Callable[..., list[str]],
    httpserver: HTTPServer,
    tmp_path: Path,
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING % {"base": httpserver.url_for("").rstrip("/")})
    httpserver.expect_request("/first").respond_with_data("down", status=503)
    httpserver.expect_request("/second").respond_with_json({"message_id": "gw-1"})
    secrets = {"GW_SECRET": GATEWAY_SECRET, "TWILIO_TOKEN": TWILIO_TOKEN}
    first, second = instances(OTP_ROUTING_FILE=str(routing), **secrets)
    for n in range(5):  # five transient failures open the circuit of the provider "first"
        response = requests.post(
            first + "/otp/request", json={"phone": f"+4915123000{n:03d}"}, timeout=10
        )
        assert response.json()["route"]["provider"] == "second"
    response = requests.post(second + "/otp/request", json={"phone": PHONE}, timeout=10)
    assert response.json()["route"] == {
        "provider": "second",
        "own_numbers": False,
        "channel": "sms",
        "attempts": 1,  # "first" was left out of the plan: its circuit is open
    }
    paths = Counter(request.path for request, _ in httpserver.log)
    assert paths == {"/first": 5, "/second": 6}
