"""Queue mode: real RQ worker processes deliver, a killed job is retried, nothing goes twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from pytest_httpserver import HTTPServer
from rq import Queue
from werkzeug import Request, Response

from app import create_app
from app.settings import SettingsError

from .conftest import BASE_CONFIG, TRUSTED, free_port
from .test_observability import sample

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+4915123456789"
ROUTING = """
providers:
  gateway: {type: http, channels: [sms], settings: {url: "%s", secret: "${GW_SECRET}"}}
own_numbers:
  default: [{provider: gateway}]
"""


@pytest.fixture
def env(
    httpserver: HTTPServer,
    tmp_path: Path,
    redis_url: str,
    queue_redis_url: str,
) -> dict[str, str]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING % httpserver.url_for("/send"))
    return {
        **os.environ,
        "OTP_ENV": "development",
        "OTP_DELIVERY": "queue",
        "OTP_DATA_DIR": str(tmp_path),
        "OTP_ROUTING_FILE": str(routing),
        "REDIS_URL": redis_url,
        "OTP_QUEUE_REDIS_URL": queue_redis_url,
        "GW_SECRET": "gateway-secret-0123456789",
    }


@pytest.fixture
def queued(
    make_app: Callable[..., Flask], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Flask:
    monkeypatch.setenv("GW_SECRET", env["GW_SECRET"])
    return make_app(**{k: env[k] for k in ("OTP_DELIVERY", "OTP_ROUTING_FILE")})


class Workers:
    """`flask otp worker` processes started by a test and stopped after it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "otp", "worker", *args]
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def run_burst(self) -> None:
        self.start("--burst").wait(60)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[Workers]:
    started = Workers(env)
    yield started
    started.stop()


@pytest.mark.parametrize(
    "urls",
    [
        {"REDIS_URL": "redis+cluster://127.0.0.1:1"},
        {
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "OTP_QUEUE_REDIS_URL": "redis+cluster://127.0.0.1:1",
        },
    ],
)
def test_queue_mode_refuses_a_cluster_for_the_queue(urls: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RQ does not support Redis Cluster; set OTP_QUEUE_R"):
        create_app({**BASE_CONFIG, "OTP_DATA_DIR": str(tmp_path), "OTP_DELIVERY": "queue", **urls})


def test_the_worker_refuses_to_run_without_queue_mode(make_app: Callable[..., Flask]) -> None:
    result = make_app().test_cli_runner().invoke(args=["otp", "worker", "--burst"])
    assert result.exit_code == 2
    assert "set OTP_DELIVERY=queue" in result.output


def sent_codes(httpserver: HTTPServer) -> list[str]:
    return [json.loads(request.data)["code"] for request, _ in httpserver.log]


def test_queue_mode_end_to_end(queued: Flask, workers: Workers, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/send").respond_with_json({"message_id": "gw-1"})
    client = queued.test_client()
    response = client.post("/otp/request", json={"phone": PHONE})
    assert response.status_code == 202
    started = response.get_json()
    assert started["route"] == {"provider": None, "own_numbers": False, "queued": True}
    assert httpserver.log == []  # nothing sent in the request

    workers.run_burst()
    (code,) = sent_codes(httpserver)
    assert client.post("/otp/verify", json={"id": started["id"], "code": code}).status_code == 200
    attempts = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"]
    assert attempts[0]["provider"] == "gateway"


def test_a_job_for_a_cancelled_verification_sends_nothing(
    queued: Flask, workers: Workers, httpserver: HTTPServer, redis_client: object
) -> None:
    httpserver.expect_request("/send").respond_with_json({"message_id": "gw-1"})
    client = queued.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    client.post(f"/otp/{started['id']}/cancel", headers=TRUSTED)
    workers.run_burst()
    assert httpserver.log == []


def test_the_job_carries_no_code(queued: Flask, queue_client: redis.Redis) -> None:
    client = queued.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    (job,) = Queue("otp-delivery", connection=queue_client).jobs
    assert job.args == (started["id"], 1)
    derived = queued.extensions["otp"].service.codes.code(started["id"], PHONE)
    assert derived.encode() not in queue_client.hget(job.key, "data")  # type: ignore[operator]


def _horses(parents: list[subprocess.Popen[bytes]]) -> list[int]:
    """The work-horse processes RQ forks for each job."""
    children = []
    for parent in parents:
        found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True)
        children += [int(pid) for pid in found.stdout.split()]
    return children


class SlowGateway:
    """A gateway that holds each send until the test releases it."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        httpserver.expect_request("/send").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        self.arrived.set()
        self.release.wait(20)
        return Response(json.dumps({"message_id": "gw-1"}), content_type="application/json")

    def wait_for_a_send(self) -> None:
        assert self.arrived.wait(30), "the job never reached the gateway"


@pytest.fixture
def slow_gateway(httpserver: HTTPServer) -> SlowGateway:
    return SlowGateway(httpserver)


def test_a_worker_killed_mid_job_is_retried_without_a_second_send(
    queued: Flask, workers: Workers, httpserver: HTTPServer, slow_gateway: SlowGateway
) -> None:
    client = queued.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    first, second = workers.start(), workers.start()

    slow_gateway.wait_for_a_send()
    in_flight = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"]
    assert [(a["provider"], a["outcome"]) for a in in_flight] == [("gateway", "sending")]
    horses = _horses([first, second])
    assert len(horses) == 1
    os.kill(horses[0], signal.SIGKILL)  # the worker dies in the middle of the send
    slow_gateway.release.set()

    deadline = time.monotonic() + 30
    queue = queued.extensions["otp"].service.queue
    job = queue.fetch_job(f"otp-{started['id']}-1")
    while job is not None and job.get_status() != "finished" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job is not None
    assert job.get_status() == "finished"  # retried once, by a worker, to completion
    assert job.return_value() == "duplicate"  # the marker stopped a second send
    assert len(httpserver.log) == 1
    # The verification is not lost: still pending, so the user can ask for a resend, and the
    # attempt the dead worker made is on record, unconfirmed.
    shown = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()
    assert shown["status"] == "pending"
    assert [(a["provider"], a["outcome"]) for a in shown["attempts"]] == [
        ("gateway", "unconfirmed")
    ]


def test_sigterm_lets_a_worker_finish_the_job_in_hand(
    queued: Flask, workers: Workers, slow_gateway: SlowGateway
) -> None:
    client = queued.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    worker = workers.start()
    slow_gateway.wait_for_a_send()
    worker.send_signal(signal.SIGTERM)  # mid-send
    time.sleep(0.5)
    slow_gateway.release.set()
    assert worker.wait(30) == 0
    attempts = client.get(f"/otp/{started['id']}", headers=TRUSTED).get_json()["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("gateway", "sent")]


def test_a_worker_sharing_the_directory_counts_into_the_apps_metrics(
    queued: Flask,
    workers: Workers,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = tmp_path / "metrics"
    workers.env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    httpserver.expect_request("/send").respond_with_json({"message_id": "gw-1"})
    client = queued.test_client()
    for phone in (PHONE, "+4915123456780"):
        assert client.post("/otp/request", json={"phone": phone}).status_code == 202
    workers.run_burst()

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))  # the app's directory too
    text = client.get("/metrics", headers=TRUSTED).get_data(as_text=True)
    assert sample(text, "otp_sends_total", provider="gateway", country="DE", outcome="sent") == 2
    assert sample(text, "otp_provider_send_duration_seconds_count", provider="gateway") == 2
    # Two jobs, two work-horses, one set of files for all horses of the worker.
    pid = workers.processes[0].pid
    written = {path.name for path in directory.iterdir()}
    assert written == {f"counter_{pid}-horse.db", f"histogram_{pid}-horse.db"}


def test_a_worker_elsewhere_serves_its_samples_on_its_own_port(
    queued: Flask, workers: Workers, httpserver: HTTPServer, tmp_path: Path
) -> None:
    port = free_port()
    workers.env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "worker-metrics")
    workers.env["OTP_WORKER_METRICS_PORT"] = str(port)
    httpserver.expect_request("/send").respond_with_json({"message_id": "gw-1"})
    assert queued.test_client().post("/otp/request", json={"phone": PHONE}).status_code == 202
    workers.start()

    sent = {"provider": "gateway", "country": "DE", "channel": "sms", "outcome": "sent"}
    deadline, text = time.monotonic() + 30, ""
    while sample(text, "otp_sends_total", **sent) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except requests.ConnectionError:  # not listening yet
            continue
    assert sample(text, "otp_sends_total", **sent) == 1


def test_a_worker_port_without_a_directory_stops_with_a_clear_error(
    queued: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    result = queued.test_cli_runner().invoke(args=["otp", "worker", "--metrics-port", "9102"])
    assert result.exit_code == 1
    assert "OTP_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR" in result.output
