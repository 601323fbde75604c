"""Where a call's CPU time goes: each endpoint called in this process, under cProfile.

Run: .venv/bin/python bench/hotspots.py [--count 3000] [--top 25] [--redis-url URL]
The service is built as bench/run.py serves it (development mode, console provider, inline
delivery, per-IP and per-destination limits set high enough never to trigger) and called
through Flask's test client, so gunicorn's share is not in it. For each endpoint it prints the
time per call, the share of each part of the code (by the file a function lives in, counting
only time spent in that function itself), and the functions with the most cumulative time.
Without --redis-url an embedded Redis is started in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from redis_cost import in_process, phone, wrong

# The parts of the code a function is counted in, by a piece of its file's path; first match.
PARTS = [
    ("service: app/", "/app/"),
    ("flask-limiter and limits", "/flask_limiter/"),
    ("flask-limiter and limits", "/limits/"),
    ("redis-py", "/redis/"),
    ("marshmallow", "/marshmallow/"),
    ("werkzeug", "/werkzeug/"),
    ("flask", "/flask/"),
    ("jwt and cryptography", "/jwt/"),
    ("jwt and cryptography", "/cryptography/"),
    ("phonenumbers", "/phonenumbers/"),
    ("prometheus_client", "/prometheus_client/"),
    ("logging", "/logging/"),
    ("json", "/json/"),
]


def part(filename: str) -> str:
    return next((name for name, piece in PARTS if piece in filename), "other")


def profile(label: str, count: int, call: Callable[[int], Any], top: int) -> None:
    profiler = cProfile.Profile()
    started = time.process_time()
    profiler.enable()
    for n in range(count):
        call(n)
    profiler.disable()
    per_call = (time.process_time() - started) / count * 1e6
    stats = pstats.Stats(profiler)
    shares: Counter[str] = Counter()
    total = 0.0
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        shares[part(filename)] += own
        total += own
    print(f"\n== {label}: {per_call:.0f} µs of CPU per call under the profiler")
    for name, own in shares.most_common():
        print(f"  {100 * own / total:5.1f} %  {name}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue().split("\n", 6)[-1].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    with in_process(args.redis_url) as (app, http, client):
        derive = app.extensions["otp"].service.codes.code
        ids: list[str] = []
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            http.post("/otp/request", json={"phone": phone(10**8)})  # scripts loaded

        def request(n: int) -> None:
            ids.append(http.post("/otp/request", json={"phone": phone(n)}).get_json()["id"])

        def verify(n: int, correct: bool) -> None:
            code = derive(ids[n], phone(n))
            http.post("/otp/verify", json={"id": ids[n], "code": code if correct else wrong(code)})

        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            calls = [
                ("POST /otp/request", request),
                ("POST /otp/verify (wrong)", lambda n: verify(n, False)),
                ("POST /otp/verify (correct)", lambda n: verify(n, True)),
            ]
            reports = io.StringIO()
            with contextlib.redirect_stdout(reports):
                for label, call in calls:
                    profile(label, args.count, call, args.top)
        print(reports.getvalue())
        client.flushdb()


if __name__ == "__main__":
    main()
