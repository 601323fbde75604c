"""Time the scheduler adds to a request: plan computation over 10,000 plans.

Run: .venv/bin/python bench/plan_time.py   (needs a Redis: REDIS_URL, or an embedded one)
The health snapshot is cached per worker (OTP_HEALTH_CACHE_SECONDS, default 1 s), so most plans
read no Redis; the uncached figure is printed too.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app

ROUTING = Path(__file__).resolve().parent.parent / "tests" / "routing.yaml"
COUNTRIES = ["CN", "DE", "FR", "US", "GB", "BR", "IN", "SG", "AU", "JP"]


def measure(cache_seconds: str, count: int) -> list[float]:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            {
                "OTP_ENV": "development",
                "OTP_DATA_DIR": data_dir,
                "OTP_ROUTING_FILE": str(ROUTING),
                "OTP_HEALTH_CACHE_SECONDS": cache_seconds,
                "REDIS_URL": os.environ.get("REDIS_URL", ""),
            }
        )
        router = app.extensions["otp"].router
        timings = []
        for n in range(count):
            started = time.perf_counter()
            router.plan(COUNTRIES[n % len(COUNTRIES)], "sms", f"verification-{n}")
            timings.append(time.perf_counter() - started)
        return timings


def report(label: str, timings: list[float]) -> None:
    timings.sort()
    median = statistics.median(timings) * 1e6
    p99 = timings[int(len(timings) * 0.99)] * 1e6
    print(f"{label}: median {median:.1f} µs, p99 {p99:.1f} µs over {len(timings)} plans")


if __name__ == "__main__":
    report("plan, health cached (default)", measure("1", 10_000))
    report("plan, health read every time", measure("0", 10_000))
