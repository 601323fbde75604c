"""A provider's per-minute quota is hard: taken before each send, so concurrency never goes over."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer

QUOTA = 10
CONCURRENT = 50
ROUTING = """
providers:
  limited:
    type: http
    channels: [sms]
    quota_per_minute: %(quota)d
    settings: {url: "%(url)s/limited", secret: "${GW_SECRET}"}
  backup: {type: http, channels: [sms], settings: {url: "%(url)s/backup", secret: "${GW_SECRET}"}}
scheduling:
  use_own_numbers: false
  countries:
    DE:
      resources: [{provider: limited, priority: 1}, {provider: backup, priority: 2}]
    FR:
      resources: [{provider: limited}]
own_numbers:
  default: [{provider: backup}]
"""


@pytest.fixture
def make_limited(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[int], Flask]:
    """An app routing to the stand-in's /limited (with `quota`) and /backup."""

    def make(quota: int) -> Flask:
        routing = tmp_path / "routing.yaml"
        routing.write_text(ROUTING % {"quota": quota, "url": httpserver.url_for("").rstrip("/")})
        monkeypatch.setenv("GW_SECRET", "gateway-secret-0123456789")
        return make_app(OTP_ROUTING_FILE=str(routing))

    return make


@pytest.fixture
def limited(make_limited: Callable[[int], Flask], httpserver: HTTPServer) -> Flask:
    for path in ("/limited", "/backup"):
        httpserver.expect_request(path).respond_with_json({"message_id": "gw-1"})
    return make_limited(QUOTA)


def within_one_minute() -> None:
    """Start with enough of the current minute left that every send counts against it."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


def request_at_once(app: Flask, phones: list[str]) -> Counter[str]:
    """POST /otp/request for every phone from its own thread, all released together; counts
    the answers by status and error code."""
    barrier = threading.Barrier(len(phones))
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def submit(phone: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/otp/request", json={"phone": phone})
        error = (response.get_json().get("error") or {}).get("code", "")
        with lock:
            answers[f"{response.status_code} {error}".strip()] += 1

    threads = [threading.Thread(target=submit, args=(phone,)) for phone in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def sends(httpserver: HTTPServer) -> Counter[str]:
    return Counter(request.path.strip("/") for request, _ in httpserver.log)


def test_concurrent_requests_never_go_over_the_quota_and_fail_over(
    limited: Flask, httpserver: HTTPServer
) -> None:
    within_one_minute()
    phones = [f"+4915123{n:06d}" for n in range(CONCURRENT)]
    assert request_at_once(limited, phones) == {"202": CONCURRENT}
    assert sends(httpserver) == {"limited": QUOTA, "backup": CONCURRENT - QUOTA}


def test_without_another_route_the_rest_is_refused_and_nothing_goes_over(
    limited: Flask, httpserver: HTTPServer
) -> None:
    within_one_minute()
    phones = [f"+3361234{n:04d}" for n in range(CONCURRENT)]
    answers = request_at_once(limited, phones)
    assert sends(httpserver) == {"limited": QUOTA}
    assert answers["202"] == QUOTA
    # Planned after the quota was used up: no_route, nothing stored. Planned before, in the
    # same instant: the send step is skipped for want of quota and nothing is left to try.
    assert set(answers) <= {"202", "422 no_route", "502 delivery_failed"}


def test_a_send_the_provider_refused_gives_its_quota_back(
    make_limited: Callable[[int], Flask], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/limited").respond_with_data("down", status=503)
    httpserver.expect_request("/backup").respond_with_json({"message_id": "gw-1"})
    app = make_limited(1)
    within_one_minute()
    for phone in ("+4915123000001", "+4915123000002"):
        response = app.test_client().post("/otp/request", json={"phone": phone})
        assert response.get_json()["route"]["provider"] == "backup"
    assert sends(httpserver) == {"limited": 2, "backup": 2}  # the quota of 1 was given back
    assert app.extensions["otp"].health.snapshot("DE", ["limited"])["limited"].used == 0
