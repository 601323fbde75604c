"""Soak: the service at half its measured maximum rate for ten minutes; memory and latency.

Run: .venv/bin/python bench/soak.py [--minutes 10] [--probe 20] [--clients 16]
Serves the service under gunicorn as it ships (gunicorn.conf.py's own layout) in development
mode with its embedded Redis, in a scratch directory. First measures the highest rate of
request + verify pairs for --probe seconds (closed loop, --clients clients), then drives half
that rate (open loop, a new connection per pair) for --minutes, and prints the RSS of each
worker and of Redis at the start and the end, p50 and p99 latency per minute and call, and
the errors. The load generator runs on the same machine, and the machine may be shared: the
figures are what it gave at the time. Exits 1 when a worker's memory grew by MAX_GROWTH or
more, or when a call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from run import HIGH_LIMITS, INHERITED_NOT, Server, serve
from traffic import Call, Traffic, run_at_rate, run_clients

from app.verification.tokens import generate_pem

MAX_GROWTH = 0.10  # of a worker's RSS from the start to the end of the soak


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def memory(server: Server, redis_pid: int) -> dict[str, int]:
    """RSS in KiB of each worker (by pid) and of Redis."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    found = {f"worker {pid}": rss_kib(int(pid)) for pid in children}
    return {**found, "redis": rss_kib(redis_pid)}


def probe(base: str, secret: str, seconds: float, clients: int) -> float:
    """The highest rate of pairs per second the service keeps up (closed loop)."""
    traffic, stop = Traffic(base, secret, timeout=10), threading.Event()
    threads = run_clients(traffic, clients, stop)
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(c.kind == "verify" for c in traffic.calls) / seconds


def percentile(values: list[float], share: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def per_minute(calls: list[Call], start: float) -> list[dict[str, Any]]:
    """Count, p50 and p99 (ms) and errors of each kind of call, minute by minute."""
    minutes: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        minutes[int((call.started - start) // 60)].append(call)
    rows = []
    for minute, found in sorted(minutes.items()):
        row: dict[str, Any] = {"minute": minute + 1}
        for kind in ("request", "verify"):
            times = [1000 * c.seconds for c in found if c.kind == kind]
            row[kind] = {
                "calls": len(times),
                "p50_ms": round(percentile(times, 50), 1),
                "p99_ms": round(percentile(times, 99), 1),
            }
        row["errors"] = sum(not c.ok for c in found)
        rows.append(row)
    return rows


def growth(start: dict[str, int], end: dict[str, int]) -> dict[str, float]:
    return {name: round(end[name] / start[name] - 1, 4) for name in start if name in end}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--probe", type=float, default=20, help="seconds measuring the maximum")
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients of the probe")
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("OTP_") or k in INHERITED_NOT]:
        del os.environ[name]  # development mode with the embedded Redis, nothing inherited
    secret = secrets.token_urlsafe(32)
    env = {"OTP_ENV": "development", "OTP_SECRET": secret, "OTP_SIGNING_KEY": generate_pem()}
    gunicorn = argparse.Namespace(workers=None, worker_class=None, worker_threads=None)
    with (
        tempfile.TemporaryDirectory(prefix="otp-soak-") as scratch,
        serve(gunicorn, "service", ["wsgi:app"], {**env, **HIGH_LIMITS}, Path(scratch)) as server,
    ):
        redis_pid = int((Path(scratch) / "service" / "redis.pid").read_text())
        most = probe(server.base, secret, args.probe, args.clients)
        rate = most / 2
        print(f"maximum: {most:.1f} pairs/s; soaking at {rate:.1f} pairs/s", flush=True)
        traffic, before = Traffic(server.base, secret, timeout=10), memory(server, redis_pid)
        start = time.time()
        run_at_rate(traffic, rate, lambda: time.time() - start >= 60 * args.minutes)
        after = memory(server, redis_pid)
    errors = Counter(f"{c.kind} {c.status or c.error}" for c in traffic.calls if not c.ok)
    workers = {k: v for k, v in growth(before, after).items() if k.startswith("worker")}
    report = {
        "note": "one run on a 2-core machine shared with other work; the load generator "
        "runs on the same machine",
        "maximum_pairs_per_second": round(most, 1),
        "maximum_requests_per_second": round(2 * most, 1),
        "soak_pairs_per_second": round(rate, 1),
        "minutes": args.minutes,
        "calls": len(traffic.calls),
        "rss_kib_start": before,
        "rss_kib_end": after,
        "rss_growth": growth(before, after),
        "per_minute": per_minute(traffic.calls, start),
        "errors": dict(errors),
    }
    print(json.dumps(report, indent=2))
    grew = [name for name, share in workers.items() if share >= MAX_GROWTH]
    sys.exit(1 if grew or errors else 0)


if __name__ == "__main__":
    main()
