"""gunicorn as shipped: one instance per port, masked access log, bounded bodies, clean exits."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

from app import masking
from app.logs import JsonFormatter

from .conftest import ROOT, free_port, gunicorn_command

PHONE = "+4915123456789"


def _shipped(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "REDIS_URL": "",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "OTP_ACCESS_LOG": "-",
        **env,
    }


def test_a_second_instance_on_a_taken_port_fails_to_start(
    gunicorn: Callable[..., str], tmp_path: Path
) -> None:
    port = free_port()
    first = gunicorn(_shipped(tmp_path), "-c", "gunicorn.conf.py", "-w", "1", port=port)
    environment = {**os.environ, "OTP_ENV": "development", "OTP_DATA_DIR": str(tmp_path / "b")}
    second = subprocess.run(
        gunicorn_command(port, "-c", "gunicorn.conf.py", "-w", "1"),
        cwd=ROOT,
        env={**environment, **_shipped(tmp_path / "b")},
        capture_output=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert b"Address already in use" in second.stderr
    assert requests.get(first + "/healthz", timeout=5).status_code == 200


def test_the_log_names_the_address_and_masks_the_access_log(
    gunicorn: Callable[..., str], tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    base = gunicorn(_shipped(tmp_path), "-c", "gunicorn.conf.py", "-w", "1", log=log)
    requests.get(f"{base}/otp/{PHONE}", timeout=5)
    requests.get(base + "/dev/outbox?to=%2B4915123456789&cc=ana%40example.com", timeout=5)
    requests.get(base + "/dev/outbox?to=ana@example.com", timeout=5)
    _stop_gunicorn(log)
    written = log.read_text()
    assert f"Listening at: {base} (" in written
    assert PHONE not in written
    assert PHONE[1:] not in written
    assert "ana@example.com" not in written
    assert "ana%40example.com" not in written
    access = [json.loads(line) for line in written.splitlines() if '"log": "access"' in line]
    access = [line for line in access if line["path"] != "/healthz"]
    assert access[0]["path"] == "/otp/+49151****6789"
    assert access[1]["query"] == "to=%2B49151****6789&cc=a***%40example.com"
    assert "Logging error" not in written
    assert "Traceback" not in written


def test_reuse_port_is_an_opt_in_and_still_names_the_address(
    gunicorn: Callable[..., str], tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    env = _shipped(tmp_path, OTP_REUSE_PORT="true")
    base = gunicorn(env, "-c", "gunicorn.conf.py", "-w", "1", log=log)
    assert requests.get(base + "/healthz", timeout=5).status_code == 200
    _stop_gunicorn(log)
    assert f"Listening at: {base} (reuse_port)" in log.read_text()


def test_a_chunked_body_over_16_kib_is_413(gunicorn: Callable[..., str], tmp_path: Path) -> None:
    base = gunicorn(_shipped(tmp_path), "-c", "gunicorn.conf.py", "-w", "1")
    body = b'{"phone": "' + b"1" * 17000 + b'"}'

    def chunks() -> object:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    answer = requests.post(
        base + "/otp/request",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.request.headers.get("Transfer-Encoding") == "chunked"
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    small = b'{"phone": "+4915123456789"}'
    answer = requests.post(
        base + "/otp/request",
        data=iter([small]),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 202


def test_masking_keeps_ports_and_pids_and_hides_numbers_and_codes() -> None:
    masking.begin()
    masking.keep_out("482913")
    text = (
        "Listening at: http://127.0.0.1:8000 (12345), worker 3 pid 4242; "
        "sent 482913 to +8613800138000 and 13800138000, mail ana@example.com"
    )
    record = logging.LogRecord("x", logging.INFO, __file__, 1, text, None, None)
    line = json.loads(JsonFormatter().format(record))["message"]
    assert "127.0.0.1:8000 (12345), worker 3 pid 4242" in line
    assert "482913" not in line
    assert "+86138****8000" in line
    assert "13800138000" not in line
    assert "a***@example.com" in line
    masking.begin()
    assert "482913" in masking.mask_text("482913")  # another request's text


def test_codes_kept_out_without_a_request_stay_few() -> None:
    """Codes derived outside any request (no `begin`) are kept up to a bound: masking a line
    costs the same after 10,000 of them, and the latest are still masked."""
    masking.begin()
    codes = [f"{n:06d}" for n in range(10_000)]
    for code in codes:
        masking.keep_out(code)
        masking.keep_out(code)  # a code derived twice is kept once
    line = masking.mask_text(" ".join(codes[-masking.KEPT_AT_MOST :]))
    assert set(line) == {"*", " "}
    assert masking.mask_text(codes[-masking.KEPT_AT_MOST - 1]) == codes[-masking.KEPT_AT_MOST - 1]
    masking.begin()


def _stop_gunicorn(log: Path) -> None:
    """SIGTERM the gunicorn master that writes `log`, and wait for its last line."""
    master = _master_pid(log)
    os.kill(master, signal.SIGTERM)
    for _ in range(400):
        if "Shutting down: Master" in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError("gunicorn did not stop")


def _master_pid(log: Path) -> int:
    for line in log.read_text().splitlines():
        if "Starting gunicorn" in line:
            return int(line.split("] [", 1)[1].split("]", 1)[0])
    raise AssertionError("no master line in the log")
