"""Graceful restarts: SIGTERM (stop) and SIGHUP (reload) of the gunicorn master under steady
traffic lose no request in flight.

A request is in flight when a worker has taken it: gunicorn's access log names it (each client
request carries its own X-Request-ID, which the service echoes and the log records). Such a
request must get its answer, and no answer may be a 5xx. A request no worker took (refused, or
dropped with the listener it was waiting on) was not accepted: counted and shown, allowed.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.verification.codes import Codes

SECRET = "restarts-secret-0123456789abcdef"
SEND_SECONDS = 0.3  # each send takes this long, so that requests are in flight at the signal
ROUTING = """
providers:
  gateway: {type: http, channels: [sms], settings: {url: "%s", secret: "${GW_SECRET}"}}
own_numbers:
  default: [{provider: gateway}]
"""


@dataclass
class Call:
    request_id: str
    started: float
    outcome: str  # the HTTP status, "refused", "dropped" (connection closed or reset) or "timeout"


class Traffic:
    """Clients sending request + verify pairs, each call on a new connection, until stopped."""

    def __init__(self, base: str, clients: int) -> None:
        self.base = base
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _client(self, number: int) -> None:
        codes, sent = Codes(SECRET, 6, {}), 0
        while not self._stop.is_set():
            phone = f"+4915{number:02d}{sent:07d}"
            sent += 1
            answer = self._call("/otp/request", {"phone": phone})
            if answer is not None and answer.status_code == 202:
                verification = answer.json()["id"]
                self._call(
                    "/otp/verify", {"id": verification, "code": codes.code(verification, phone)}
                )

    def _call(self, path: str, body: dict[str, str]) -> requests.Response | None:
        request_id, started = uuid.uuid4().hex, time.time()
        answer, outcome = None, ""
        try:
            # Patient: with gunicorn's reuse_port a reload may queue a connection on a new
            # worker that is still loading the app, seconds on a busy machine.
            answer = requests.post(
                self.base + path, json=body, headers={"X-Request-ID": request_id}, timeout=30
            )
            outcome = str(answer.status_code)
        except requests.ConnectionError as exc:
            refused = "refused" in str(exc).lower()
            outcome = "refused" if refused else "dropped"
            time.sleep(0.05)  # no busy loop while the server is gone
        except requests.Timeout:
            outcome = "timeout"
        with self._lock:
            self.calls.append(Call(request_id, started, outcome))
        return answer


@pytest.fixture
def gateway() -> Iterator[HTTPServer]:
    """A provider stand-in that serves sends concurrently, each taking SEND_SECONDS."""
    server = HTTPServer(threaded=True)
    server.start()

    def slow(request: Request) -> Response:
        time.sleep(SEND_SECONDS)
        return Response(json.dumps({"message_id": "gw-1"}), content_type="application/json")

    server.expect_request("/send").respond_with_handler(slow)
    yield server
    server.clear()
    server.stop()


@dataclass(frozen=True)
class Served:
    base: str
    master: int  # gunicorn's master process
    access_log: Path
    reuse_port: bool


@pytest.fixture
def served(
    gunicorn: Callable[..., str],
    gateway: HTTPServer,
    tmp_path: Path,
    redis_url: str,
    redis_client: object,
    request: pytest.FixtureRequest,
) -> Served:
    """gunicorn with two workers, OTP_REUSE_PORT as the test's parameter if it has one."""
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING % gateway.url_for("/send"))
    access_log, pid_file = tmp_path / "access.log", tmp_path / "gunicorn.pid"
    env = {
        "REDIS_URL": redis_url,
        "OTP_SECRET": SECRET,
        "OTP_ROUTING_FILE": str(routing),
        "GW_SECRET": "gateway-secret-0123456789",
        "OTP_LIMIT_IP_REQUEST": "100000/minute",
        "OTP_LIMIT_IP_VERIFY": "100000/minute",
        "OTP_LIMIT_PHONE_HOURLY": "100000",
        "OTP_LIMIT_PHONE_DAILY": "100000",
        "OTP_REUSE_PORT": getattr(request, "param", ""),
    }
    args = ["--workers", "2", "--access-logfile", str(access_log), "--pid", str(pid_file)]
    base = gunicorn(env, *args)
    return Served(base, int(pid_file.read_text()), access_log, bool(env["OTP_REUSE_PORT"]))


def taken_by_a_worker(access_log: Path) -> set[str]:
    """The request ids gunicorn's access log names."""
    return {json.loads(line)["request_id"] for line in access_log.read_text().splitlines()}


def check(calls: list[Call], access_log: Path, signalled: float) -> Counter[str]:
    """Assert that every request a worker took was answered, none with a 5xx; the outcomes."""
    taken = taken_by_a_worker(access_log)
    lost = [c for c in calls if c.request_id in taken and not c.outcome.isdigit()]
    failed = [c for c in calls if c.outcome.startswith("5")]
    assert lost == [], f"requests taken by a worker but never answered: {lost[:5]}"
    assert failed == [], f"5xx answers: {failed[:5]}"
    answered_after = [c for c in calls if c.started < signalled and c.outcome.isdigit()]
    assert answered_after, "traffic was flowing when the signal came"
    outcomes = Counter(
        c.outcome if c.outcome.isdigit() or c.request_id in taken else f"not accepted ({c.outcome})"
        for c in calls
    )
    print(f"outcomes: {dict(outcomes)}")
    return outcomes


def signal_under_traffic(served: Served, signum: int, after: float) -> tuple[list[Call], float]:
    """Steady traffic, `signum` to the master 1.5 s into it, `after` more seconds of it; the
    calls made, and when the signal went."""
    with Traffic(served.base, clients=6) as traffic:
        time.sleep(1.5)
        signalled = time.time()
        os.kill(served.master, signum)
        time.sleep(after)
    return traffic.calls, signalled


def test_sigterm_lets_every_request_in_flight_finish(served: Served) -> None:
    calls, signalled = signal_under_traffic(served, signal.SIGTERM, 2.5)
    check(calls, served.access_log, signalled)


@pytest.mark.parametrize("served", ["", "true"], indirect=True, ids=["shared", "reuse_port"])
def test_sighup_reloads_without_losing_a_request(served: Served) -> None:
    calls, signalled = signal_under_traffic(served, signal.SIGHUP, 3)
    outcomes = check(calls, served.access_log, signalled)
    later = [c for c in calls if c.started > signalled + 2 and c.outcome.isdigit()]
    assert later, "served by the new workers"
    # A reload never closes the port: nothing refused. Sharing the master's listening socket,
    # nothing is lost at all; with reuse_port each worker has a socket of its own, and the
    # connections queued on a stopping worker's are dropped unseen.
    assert outcomes["not accepted (refused)"] == 0
    if not served.reuse_port:
        assert set(outcomes) <= {"200", "202"}
