"""The benchmark of the service against a bare Flask app, in one command (under 10 minutes).

Run: .venv/bin/python bench/run.py [--duration 12] [--redis-url redis://127.0.0.1:6379/13]
Both apps run under gunicorn with the same settings, on 127.0.0.1, against the same Redis (by
default database 13 of the server at 127.0.0.1:6379, flushed; an embedded one if none answers
there). The Redis round trips per endpoint are counted by bench/redis_cost.py; the memory per
pending verification is measured while creating the verifications the verify runs consume.
wrk then drives GET /hello, POST /otp/request (a new number each time), POST /otp/verify with
correct codes and with wrong codes: a warm-up each, then rounds in which every endpoint runs in
turn, so that a burst of load from elsewhere on the machine hits all of them alike; each figure
is the median over the rounds, each ratio the median of the ratios to hello in the same round.
Prints a table and the project's targets, and writes both to bench/results/<UTC time>.json.
`--compare REV` also serves the service as it was at git revision REV (checked out in a
scratch worktree, same Redis, same settings) and drives its endpoints in the same rounds: a
change's before and after, each as a ratio to the same hello. `--routing NAME=FILE` also
serves this revision with that routing file (bench/guard.yaml: the fraud guard on), and
`--setting NAME:VAR=VALUE` with that setting (RATELIMIT_ENABLED=false: without flask-limiter),
the same way.
Needs wrk: apt-get install -y wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from statistics import median
from typing import Any

import redis
import redis_cost
from report import HELLO, code_version, machine, print_report, save, targets

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from app import create_app, storage  # noqa: E402
from app.verification.codes import Codes  # noqa: E402
from app.verification.service import CodeRequest  # noqa: E402
from app.verification.tokens import generate_pem  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
# Inherited settings that would change what is measured, or where gunicorn.conf.py keeps (and
# first empties) the metrics directory.
INHERITED_NOT = {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY"}
WRONG_TRIES = 4  # the fifth wrong code would burn the verification (OTP_MAX_ATTEMPTS=5)
RANGES = "1279"  # +4915<digit>: the numbers POST /otp/request sends to, one range per version
CORRECT_SHARE = 0.8  # of the pool; the rest takes WRONG_TRIES wrong codes each
HIGH_LIMITS = {
    # The longest lifetime allowed: the verifications made first must outlive the whole run.
    "OTP_TTL": "600",
    "OTP_LIMIT_IP_REQUEST": "1000000000/minute",
    "OTP_LIMIT_IP_VERIFY": "1000000000/minute",
    "OTP_LIMIT_PHONE_HOURLY": "1000000",
    "OTP_LIMIT_PHONE_DAILY": "1000000",
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    app: str  # the server: "hello" or "otp"
    path: str
    script: str
    expected: int  # the status every answer should have
    pool: Path | None = None  # "<id>,<code>" lines for the verify script
    numbers: str = "1"  # the request script's range (+4915<numbers>...): one per version

    def script_args(self, run: int, first: int, threads: int) -> list[str]:
        if self.pool is None:
            return [str(run), self.numbers]
        return [str(self.pool), str(first), str(threads)]


@dataclass(frozen=True)
class Server:
    base: str
    pid: int  # gunicorn's master

    def worker_cpu(self) -> float:
        """CPU seconds (user and system) the workers have used so far."""
        ticks = 0
        for child in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(") ", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


def endpoints(pools: dict[str, tuple[Path, Path]]) -> list[Endpoint]:
    """hello, and the three service endpoints of each served version ("otp" is this one)."""
    measured = [Endpoint(HELLO, "hello", "/hello", "hello.lua", 200)]
    for n, (app, (correct, wrong)) in enumerate(pools.items()):
        at = "" if app == "otp" else f" {app.removeprefix('otp')}"
        measured += [
            Endpoint(
                f"POST /otp/request{at}", app, "/otp/request", "request.lua", 202, None, RANGES[n]
            ),
            Endpoint(
                f"POST /otp/verify (correct){at}", app, "/otp/verify", "verify.lua", 200, correct
            ),
            Endpoint(f"POST /otp/verify (wrong){at}", app, "/otp/verify", "verify.lua", 400, wrong),
        ]
    return measured


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=12, help="seconds measured per endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="the duration is split over them")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (at most 10)")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers of each app (default: gunicorn.conf.py's)"
    )
    parser.add_argument(
        "--worker-class", choices=["gthread", "sync"], help="default: gunicorn.conf.py's"
    )
    parser.add_argument("--worker-threads", type=int, help="gthread threads each (default: ditto)")
    parser.add_argument("--pending", type=int, default=100_000, help="verifications created")
    parser.add_argument("--redis-url", help=f"default {DEFAULT_REDIS}, else an embedded Redis")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--compare", action="append", default=[], metavar="REV", help="also serve git REV"
    )
    parser.add_argument(
        "--routing",
        action="append",
        default=[],
        metavar="NAME=FILE",
        type=_routing,
        help="also serve this revision with this routing file",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE",
        type=_setting,
        help="also serve this revision with this setting",
    )
    args = parser.parse_args()
    args.variants = [*args.routing, *args.setting]
    # Each is one digit of the phone numbers POST /otp/request sends.
    if not 1 <= args.threads <= 10 or not 1 <= args.rounds <= 9:
        parser.error("--threads must be between 1 and 10, --rounds between 1 and 9")
    if args.compare and (args.rounds > 3 or len(args.compare) > 1):
        parser.error("--compare takes one revision, with at most 3 rounds")
    if len(args.compare) + len(args.variants) >= len(RANGES):
        parser.error(f"at most {len(RANGES) - 1} more versions")
    return args


def _routing(text: str) -> tuple[str, dict[str, str]]:
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError("NAME=FILE")
    return name, {"OTP_ROUTING_FILE": str(Path(path).resolve())}


def _setting(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignment = text.partition(":")
    variable, equals, value = assignment.partition("=")
    if not name or not variable or not equals:
        raise argparse.ArgumentTypeError("NAME:VAR=VALUE")
    return name, {variable: value}


def main() -> None:
    args = options()
    if shutil.which("wrk") is None:
        print("wrk is missing; install it with: apt-get install -y wrk", file=sys.stderr)
        sys.exit(2)
    for name in [k for k in os.environ if k.startswith("OTP_") or k in INHERITED_NOT]:
        del os.environ[name]  # every run measures the same configuration
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="otp-bench-") as scratch,
        chosen_redis(args.redis_url, Path(scratch)) as url,
    ):
        client = storage.connect(url)
        client.flushdb()
        try:
            report = run(args, url, client, Path(scratch))
        finally:
            client.flushdb()
    report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = targets(report)
    print_report(report)
    save(report, args.results)


@contextlib.contextmanager
def chosen_redis(given: str | None, scratch: Path) -> Iterator[str]:
    """The given Redis, else the default one, else an embedded one stopped at the end."""
    url = given or DEFAULT_REDIS
    if answers(url):
        yield url
        return
    if given:
        sys.exit(f"no Redis answers at {given}")
    print(f"no Redis at {DEFAULT_REDIS}: starting an embedded one")
    data_dir = scratch / "redis"
    try:
        yield storage.embedded_url(data_dir)
    finally:
        storage.stop_embedded(data_dir)


def answers(url: str) -> bool:
    try:
        return bool(storage.connect(url).ping())
    except redis.RedisError:
        return False


def service_env(url: str) -> dict[str, str]:
    return {
        "OTP_ENV": "development",
        "OTP_DELIVERY": "inline",
        "REDIS_URL": url,
        "OTP_SECRET": secrets.token_urlsafe(32),
        "OTP_SIGNING_KEY": generate_pem(),
        **HIGH_LIMITS,
    }


def run(args: argparse.Namespace, url: str, client: Any, scratch: Path) -> dict[str, Any]:
    env = service_env(url)
    variants = [(name, {**env, **overrides}) for name, overrides in args.variants]
    # Counted before any pool is made: each count empties the database when it is done.
    trips = round_trips(env, scratch / "inprocess.log")
    for name, varied in variants:
        trips += [
            {**trip, "endpoint": f"{trip['endpoint']} +{name}"}
            for trip in round_trips(varied, scratch / "inprocess.log")
        ]
    memory, pools = pending_pool(args.pending, env, client, scratch, ["otp"])
    hello_app = ["--pythonpath", str(BENCH), "hello:app"]
    with contextlib.ExitStack() as stack:
        servers = {
            "hello": stack.enter_context(
                serve(args, "hello", hello_app, {"OTP_ENV": "development"}, scratch)
            )
        }
        servers["otp"] = stack.enter_context(serve(args, "service", ["wsgi:app"], env, scratch))
        for n, rev in enumerate(args.compare, 1):
            tree = stack.enter_context(checkout(rev, scratch))
            served = serve(args, f"service-{rev}", ["wsgi:app"], env, scratch, tree)
            server = servers[f"otp@{rev}"] = stack.enter_context(served)
            # Its own verifications, made by its own code, on numbers of its own.
            pools[f"otp@{rev}"] = http_pool(server.base, args.pending // 4, env, scratch, n)
        for n, (name, varied) in enumerate(variants, 1 + len(args.compare)):
            served = serve(args, f"service-{name}", ["wsgi:app"], varied, scratch)
            server = servers[f"otp+{name}"] = stack.enter_context(served)
            pools[f"otp+{name}"] = http_pool(server.base, args.pending // 4, varied, scratch, n)
        measured = endpoints(pools)
        results = drive(args, servers, measured)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(client),
        "code": code_version(),
        "settings": settings(args, url),
        "endpoints": [figures(e, results[e.name], results[HELLO]) for e in measured],
        "round_trips": trips,
        "memory": memory,
    }


@contextlib.contextmanager
def checkout(rev: str, scratch: Path) -> Iterator[Path]:
    """The project as it was at `rev`, in a scratch worktree removed afterwards."""
    tree = scratch / f"rev-{re.sub(r'[^A-Za-z0-9]', '_', rev)}"
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), rev], check=True)
    try:
        yield tree
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)


@contextlib.contextmanager
def serve(
    args: argparse.Namespace,
    name: str,
    app_args: list[str],
    env: dict[str, str],
    scratch: Path,
    tree: Path = ROOT,
) -> Iterator[Server]:
    """One app under gunicorn with the service's config file and the benchmark's settings;
    `tree` is the checkout served (its `app` package comes first on the path)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "-c", str(tree / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--reuse-port"]
    for option, value in [
        ("--workers", args.workers),
        ("--worker-class", args.worker_class),
        ("--threads", args.worker_threads),
    ]:
        command += [option, str(value)] if value else []
    if "hello:app" in app_args:
        # hello writes one access-log line per request, as much logging as the service does
        # per request (its own JSON line), so the ratio measures the service's own work.
        command += ["--access-logfile", str(scratch / f"{name}-access.log")]
    command += app_args
    # Its own data directory: gunicorn.conf.py keeps (and first empties) the metrics there.
    env = {**os.environ, "OTP_DATA_DIR": str(scratch / name), **env}
    log = scratch / f"{name}.log"
    with open(log, "wb") as out:  # the console provider prints every message here
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + ("/hello" if "hello:app" in app_args else "/readyz"), process, log)
        yield Server(base, process.pid)
    finally:
        process.terminate()  # gunicorn's master stops its workers
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited at start-up:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                return
        time.sleep(0.1)
    sys.exit(f"{url} did not answer within 30 s; see {log}")


def wrk(
    args: argparse.Namespace, url: str, endpoint: Endpoint, seconds: int, run: int, first: int
) -> dict[str, Any]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += ["--timeout", "10s", "-s", str(BENCH / "wrk" / endpoint.script)]
    command += [url + endpoint.path, "--", *endpoint.script_args(run, first, args.threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    # The scripts' done() hook prints the run's figures, percentiles from wrk's own histogram.
    summary = next(line for line in output.splitlines() if line.startswith("BENCH "))
    result: dict[str, Any] = json.loads(summary.removeprefix("BENCH "))
    return result


def drive(
    args: argparse.Namespace, servers: dict[str, Server], measured: list[Endpoint]
) -> dict[str, list[dict[str, Any]]]:
    """A warm-up of every endpoint, then the rounds, every endpoint in turn in each."""
    results: dict[str, list[dict[str, Any]]] = {e.name: [] for e in measured}
    first = dict.fromkeys(results, 0)  # where each pool's next run starts
    seconds = max(1, round(args.duration / args.rounds))
    for run in range(args.rounds + 1):
        length = seconds if run else args.warmup
        print(f"{f'round {run}' if run else 'warm-up'}: {length} s per endpoint", flush=True)
        for endpoint in measured:
            server = servers[endpoint.app]
            cpu = server.worker_cpu()
            result = wrk(args, server.base, endpoint, length, run, first[endpoint.name])
            result["cpu_seconds"] = server.worker_cpu() - cpu
            first[endpoint.name] += args.threads * int(result["used"]["max"])
            if run:
                results[endpoint.name].append(result)
    return results


def figures(
    endpoint: Endpoint, rounds: list[dict[str, Any]], hello: list[dict[str, Any]]
) -> dict[str, Any]:
    """One endpoint's medians over the rounds, and its ratios to hello's in the same rounds."""
    rates = [r["requests"] / r["seconds"] for r in rounds]
    ratios = [rate / (h["requests"] / h["seconds"]) for rate, h in zip(rates, hello, strict=True)]
    p99s = [r["p99_us"] / h["p99_us"] for r, h in zip(rounds, hello, strict=True)]
    unexpected: Counter[str] = Counter()
    for r in rounds:
        unexpected.update({k: n for k, n in r["statuses"].items() if int(k) != endpoint.expected})
        unexpected.update({k: n for k, n in r["errors"].items() if n and k != "status"})
    return {
        "endpoint": endpoint.name,
        "requests_per_second": round(median(rates), 1),
        "p50_ms": median(r["p50_us"] for r in rounds) / 1000,
        "p99_ms": median(r["p99_us"] for r in rounds) / 1000,
        "ratio_to_hello": round(median(ratios), 3),
        "p99_to_hello": round(median(p99s), 2),
        "cpu_ms_per_request": round(
            median(1000 * r["cpu_seconds"] / r["requests"] for r in rounds), 3
        ),
        "requests_per_second_by_round": [round(rate) for rate in rates],
        "requests": sum(r["requests"] for r in rounds),
        "expected_status": endpoint.expected,
        "unexpected": dict(unexpected),
        "pool_exhausted": any(r["used"]["wrapped"] for r in rounds),
    }


def round_trips(env: dict[str, str], log: Path) -> list[dict[str, Any]]:
    """Round trips and commands per call, counted by bench/redis_cost.py in this process."""
    print("Redis round trips: 1000 calls per endpoint through an in-process app", flush=True)
    with open(log, "a") as out, contextlib.redirect_stderr(out):
        app = create_app(env)
        client = app.extensions["otp"].redis
        with contextlib.redirect_stdout(io.StringIO()):  # its own memory figure is over 1000
            measured = redis_cost.measure(app, app.test_client(), client, 1000)
        client.flushdb()
    trips: list[dict[str, Any]] = measured["round_trips"]
    return trips


def pending_pool(
    count: int, env: dict[str, str], client: Any, scratch: Path, apps: list[str]
) -> tuple[dict[str, Any], dict[str, tuple[Path, Path]]]:
    """Create `count` pending verifications through the service (one process per core), note
    the Redis memory they take, and split them into the pools of the two verify runs of each
    served version."""
    processes = os.cpu_count() or 2
    print(f"{count} pending verifications through the service, {processes} processes", flush=True)
    memory, keys, started = used_memory(client), client.dbsize(), time.monotonic()
    slices = [range(first, count, processes) for first in range(processes)]
    logs = [scratch / f"pool-{n}.log" for n in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        made = [
            pair
            for part in pool.map(create_verifications, [env] * processes, slices, logs)
            for pair in part
        ]
    seconds = time.monotonic() - started
    result = {
        "pending": count,
        "bytes_per_pending": round((used_memory(client) - memory) / count, 1),
        "keys_per_pending": round((client.dbsize() - keys) / count, 2),
        "created_per_second": round(count / seconds),
        "bytes_per_key": key_sizes(client),
    }
    pools = {}
    for n, app in enumerate(apps):
        share = made[n :: len(apps)]
        split = int(len(share) * CORRECT_SHARE)
        name = re.sub(r"[^A-Za-z0-9]", "_", app)
        correct = write_pool(scratch / f"{name}-correct.txt", share[:split])
        wrong = write_pool(
            scratch / f"{name}-wrong.txt",
            [(v, redis_cost.wrong(code)) for v, code in share[split:] for _ in range(WRONG_TRIES)],
        )
        pools[app] = (correct, wrong)
    return result, pools


def create_verifications(env: dict[str, str], numbers: range, log: Path) -> list[tuple[str, str]]:
    """(id, code) of a new verification for each number, made by the service's own request()."""
    with open(log, "a") as out, contextlib.redirect_stderr(out):
        service = create_app(env).extensions["otp"].service
        made = []
        for number in numbers:
            to = f"+49152{number:08d}"
            req = CodeRequest(
                to, country=None, email=None, channel="sms", purpose="login", locale="en"
            )
            answer = service.request(req, service.target(req))
            made.append((answer["id"], service.codes.code(answer["id"], to)))
    return made


def http_pool(
    base: str, count: int, env: dict[str, str], scratch: Path, version: int
) -> tuple[Path, Path]:
    """The verify pools of another served version, made through its own POST /otp/request
    (its Lua scripts and record format), the codes derived as every version derives them."""
    codes = Codes(env["OTP_SECRET"], 6, {})
    # In the version's own range, with a first digit its request runs never use.
    numbers = [f"+4915{RANGES[version]}9{n:07d}" for n in range(count)]
    print(f"{count} pending verifications through {base}", flush=True)

    def ask(to: str) -> tuple[str, str]:
        body = json.dumps({"phone": to}).encode()
        request = urllib.request.Request(
            base + "/otp/request", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            verification_id = json.load(answer)["id"]
        return verification_id, codes.code(verification_id, to)

    with ThreadPoolExecutor(16) as pool:
        made = list(pool.map(ask, numbers))
    split = int(count * CORRECT_SHARE)
    name = f"v{version}"
    correct = write_pool(scratch / f"{name}-correct.txt", made[:split])
    wrong = write_pool(
        scratch / f"{name}-wrong.txt",
        [(v, redis_cost.wrong(code)) for v, code in made[split:] for _ in range(WRONG_TRIES)],
    )
    return correct, wrong


def write_pool(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{vid},{code}\n" for vid, code in pairs))
    return path


def key_sizes(client: Any) -> dict[str, int]:
    """MEMORY USAGE of one key of each kind (hash tags blanked out) among the first keys."""
    sizes: dict[str, int] = {}
    for key in itertools.islice(client.scan_iter(count=1000), 1000):
        kind = re.sub(r"\{[^}]*\}", "{*}", key.decode())
        if kind not in sizes:
            sizes[kind] = client.memory_usage(key)
    return sizes


def used_memory(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def settings(args: argparse.Namespace, url: str) -> dict[str, Any]:
    return {
        "gunicorn": {
            "config": "gunicorn.conf.py",
            "workers": args.workers or "gunicorn.conf.py",
            "worker_class": args.worker_class or "gunicorn.conf.py",
            "threads": args.worker_threads or "gunicorn.conf.py",
            "reuse_port": True,
            "access_log": "hello: a file; the service: its defaults",
        },
        "wrk": {
            "threads": args.threads,
            "connections": args.connections,
            "warmup_seconds": args.warmup,
            "duration_seconds": args.duration,
            "rounds": args.rounds,
        },
        "redis": url if url.startswith("unix://") else url.rpartition("@")[2],
        "service": {"OTP_ENV": "development", "OTP_DELIVERY": "inline", **HIGH_LIMITS},
    }


if __name__ == "__main__":
    main()
