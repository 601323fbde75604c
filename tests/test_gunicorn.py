"""Several gunicorn workers share one embedded Redis: a code issued by one verifies on another."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from app import storage


@pytest.fixture
def served(gunicorn: Callable[..., str], tmp_path: Path) -> Iterator[str]:
    """Four workers and no REDIS_URL: the embedded Redis."""
    limits = {"OTP_LIMIT_IP_REQUEST": "1000/minute", "OTP_LIMIT_IP_VERIFY": "1000/minute"}
    yield gunicorn({"REDIS_URL": "", **limits}, "-w", "4")
    storage.stop_embedded(tmp_path)


def test_workers_share_the_embedded_redis(served: str, tmp_path: Path) -> None:
    for n in range(12):
        phone = f"+1415555{n:04d}"
        session = requests.Session()  # a new connection each time spreads over the workers
        started = session.post(served + "/otp/request", json={"phone": phone}, timeout=5).json()
        outbox = requests.get(served + "/dev/outbox", params={"to": phone}, timeout=5).json()
        code = re.search(r"\d{6}", outbox["messages"][0]["text"]).group()  # type: ignore[union-attr]
        verify = requests.post(
            served + "/otp/verify", json={"id": started["id"], "code": code}, timeout=5
        )
        assert verify.status_code == 200
    assert _servers_in(tmp_path) == 1, "one embedded redis-server for all workers"


def _servers_in(directory: Path) -> int:
    """redis-server processes working in `directory` (a daemonised server chdirs to its dir)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        count += name == "redis-server" and Path(cwd) == directory.resolve()
    return count
