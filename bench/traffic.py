"""Traffic for bench/failover.py and bench/soak.py: request + verify pairs through the HTTP API.

Each pair asks for a code for a new number, derives the code from the server secret (as the
service does) and verifies it; every call is timed and recorded, and every approval kept so
that a second approval of the same verification can be told.
"""

from __future__ import annotations

import itertools
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.verification.codes import Codes


@dataclass(frozen=True)
class Call:
    kind: str  # request, verify, recheck
    started: float  # unix s
    seconds: float
    status: int  # 0 when no answer came
    error: str  # the exception's name when no answer came
    retry_after: bool  # the answer carried Retry-After

    @property
    def ok(self) -> bool:
        return self.status in {200, 202}


class Traffic:
    """Calls made so far, and the verifications approved by them."""

    def __init__(self, base: str, secret: str, timeout: float) -> None:
        self.base = base
        self.timeout = timeout
        self.codes = Codes(secret, 6, {})
        self.calls: list[Call] = []
        self.approved: dict[str, tuple[str, int]] = {}  # id -> (phone, approvals)
        self._lock = threading.Lock()
        self._numbers = itertools.count(random.randrange(10**7))
        self._local = threading.local()

    def pair(self) -> None:
        """Ask for a code for a new number and verify it."""
        phone = f"+49151{next(self._numbers) % 10**8:08d}"
        status, answer = self.call("request", "/otp/request", {"phone": phone})
        if status == 202:
            verification = answer["id"]
            self.verify("verify", verification, phone)

    def verify(self, kind: str, verification: str, phone: str) -> int:
        body = {"id": verification, "code": self.codes.code(verification, phone)}
        status, _ = self.call(kind, "/otp/verify", body)
        if status == 200:
            with self._lock:
                approvals = self.approved.get(verification, (phone, 0))[1]
                self.approved[verification] = (phone, approvals + 1)
        return status

    def recheck(self) -> list[str]:
        """Verify every approved verification once more; those approved more than once."""
        for verification, (phone, _) in list(self.approved.items()):
            self.verify("recheck", verification, phone)
        return [v for v, (_, approvals) in self.approved.items() if approvals > 1]

    def call(self, kind: str, path: str, body: dict[str, str]) -> tuple[int, dict[str, str]]:
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        started = time.time()
        status, error, retry_after, answer = 0, "", False, {}
        try:
            response = session.post(self.base + path, json=body, timeout=self.timeout)
            status, retry_after = response.status_code, "Retry-After" in response.headers
            answer = response.json()
        except (requests.RequestException, ValueError) as exc:
            error = type(exc).__name__
            self._local.session = None
        with self._lock:
            self.calls.append(
                Call(kind, started, time.time() - started, status, error, retry_after)
            )
        return status, answer


def run_clients(traffic: Traffic, clients: int, stop: threading.Event) -> list[threading.Thread]:
    """Closed loop: `clients` threads making pairs back to back until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            traffic.pair()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    return threads


def run_at_rate(traffic: Traffic, pairs_per_second: float, until: Callable[[], bool]) -> None:
    """Open loop: start a pair every 1/rate seconds, each in its own thread, until `until()`."""
    interval, due = 1 / pairs_per_second, time.monotonic()
    threads: list[threading.Thread] = []
    while not until():
        due += interval
        thread = threading.Thread(target=traffic.pair, daemon=True)
        thread.start()
        threads.append(thread)
        threads = [t for t in threads if t.is_alive()]
        time.sleep(max(0.0, due - time.monotonic()))
    for thread in threads:
        thread.join()
