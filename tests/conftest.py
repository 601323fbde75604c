"""Fixtures: a real Redis (OTP_TEST_REDIS_URL, or an embedded one), flushed around each test.

OTP_TEST_REDIS_URL may name a Redis Cluster (redis+cluster://) or a Sentinel
(redis+sentinel://); scripts/redis-topology starts both.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from redis.cluster import RedisCluster

from app import create_app, storage

ROOT = Path(__file__).resolve().parent.parent

# A trusted caller's key, and the header that presents it.
API_KEY = "test-api-key-0123456789abcdef"
TRUSTED = {"Authorization": f"Bearer {API_KEY}"}

# Overrides every test app starts from: development mode, limits out of the way.
BASE_CONFIG = {
    "OTP_ENV": "development",
    "OTP_API_KEYS": API_KEY,
    "OTP_LIMIT_IP_REQUEST": "10000/minute",
    "OTP_LIMIT_IP_VERIFY": "10000/minute",
    "OTP_LIMIT_PHONE_HOURLY": "1000",
    "OTP_LIMIT_PHONE_DAILY": "1000",
    "OTP_HEALTH_CACHE_SECONDS": "0",
}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis under test: OTP_TEST_REDIS_URL when set, else an embedded server."""
    url = os.environ.get("OTP_TEST_REDIS_URL")
    if url:
        yield url
        return
    data_dir = tmp_path_factory.mktemp("embedded-redis")
    yield storage.embedded_url(data_dir)
    storage.stop_embedded(data_dir)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the Redis under test, emptied before and after the test. On a Cluster,
    FLUSHDB goes to every primary, and so does KEYS here (redis-py asks one node by default,
    which would make every "nothing stored" check pass unseen)."""
    client = storage.connect(redis_url)
    if isinstance(client, RedisCluster):
        client.command_flags["KEYS"] = RedisCluster.PRIMARIES
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def queue_redis_url(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Where RQ keeps the delivery queue (OTP_QUEUE_REDIS_URL): the Redis under test, or beside
    a Cluster, which RQ does not support, an embedded server."""
    if not storage.is_cluster(redis_url):
        yield redis_url
        return
    data_dir = tmp_path_factory.mktemp("queue-redis")
    yield storage.embedded_url(data_dir)
    storage.stop_embedded(data_dir)


@pytest.fixture
def queue_client(queue_redis_url: str) -> Iterator[redis.Redis]:
    """The queue's Redis, emptied before and after the test."""
    client = storage.connect(queue_redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def make_app(
    redis_client: redis.Redis,
    redis_url: str,
    queue_client: redis.Redis,
    queue_redis_url: str,
    tmp_path: Path,
) -> Callable[..., Flask]:
    """An app factory: keyword arguments are environment overrides (OTP_TTL="2", ...). Both
    Redis servers (one but on a Cluster) are emptied around the test."""

    def make(**overrides: Any) -> Flask:
        config = {**BASE_CONFIG, "REDIS_URL": redis_url, "OTP_DATA_DIR": str(tmp_path)}
        return create_app({**config, "OTP_QUEUE_REDIS_URL": queue_redis_url, **overrides})

    return make


@pytest.fixture
def routed_app(
    make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Flask]:
    """An app from a routing file's text: routed_app(text, {env var: value}, **overrides)."""

    def make(routing: str, env: dict[str, str], **overrides: Any) -> Flask:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "routing.yaml"
        path.write_text(routing)
        return make_app(OTP_ROUTING_FILE=str(path), **overrides)

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def outbox_code(client: FlaskClient, to: str) -> str:
    """The code in the newest outbox message to `to`."""
    messages = client.get("/dev/outbox", query_string={"to": to}).get_json()["messages"]
    assert messages, f"no message to {to} in the outbox"
    found = re.search(r"\b(\d{4,10})\b", messages[0]["text"])
    assert found is not None
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_logged(server: HTTPServer, count: int, timeout: float = 3) -> None:
    """Wait (at most `timeout` seconds) until the stand-in has answered `count` requests: an
    answer it gives after its test ends is logged in the next test's time."""
    deadline = time.monotonic() + timeout
    while len(server.log) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def gunicorn_command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}", "wsgi:app"]


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Serve `wsgi:app` with gunicorn: start(env overrides, *gunicorn arguments, log=None) ->
    base URL; `log` is a file for gunicorn's standard output and error.

    Development mode with OTP_DATA_DIR in the test's directory; stopped with SIGTERM after the
    test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str, log: Path | None = None, port: int = 0) -> str:
        port = port or free_port()
        environment = {**os.environ, "OTP_ENV": "development", "OTP_DATA_DIR": str(tmp_path), **env}
        output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the child's
        processes.append(
            subprocess.Popen(
                gunicorn_command(port, *args),
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=output,
            )
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                requests.get(base + "/healthz", timeout=5)
                return base
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not start")

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
