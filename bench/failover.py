"""Failover under load: kill the Redis primary behind a running service and measure the outage.

Run: .venv/bin/python bench/failover.py sentinel|cluster [--topology DIR] [--clients 8]
Needs the topologies of `scripts/redis-topology start [DIR]`. Serves the service under
gunicorn in production mode (its provider a stand-in in this process) on the topology's URL,
drives steady request + verify traffic, SIGKILLs a primary (the Sentinel's, or the Cluster's
with the lowest port) and keeps the traffic going until the service has answered without a
failure for QUIET seconds. Then it verifies every approved verification once more (none may
be approved twice), starts the killed server again (it rejoins as a replica) and prints what
the clients saw. Exits 1 when an answer was neither a success nor a 503 with Retry-After, when
one took longer than the send timeout or none came, when a verification was approved twice,
or when the service was not back within BACK_WITHIN seconds of the kill.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster
from run import HIGH_LIMITS, INHERITED_NOT, ROOT, serve
from traffic import Call, Traffic, run_clients

from app import storage
from app.verification.tokens import generate_pem

WARMUP = 5.0  # seconds of traffic before the kill
QUIET = 5.0  # seconds without a failure that count as "back"
GIVE_UP = 60.0  # seconds after the kill when the run stops regardless
BACK_WITHIN = 30.0
SEND_TIMEOUT = 5.0  # OTP_SEND_TIMEOUT: no answer may take longer
ALLOWED = {"request": {202, 503}, "verify": {200, 503}, "recheck": {404, 503}}
ROUTING = """
providers:
  gateway: {type: http, channels: [sms], settings: {url: "%s", secret: "${GW_SECRET}"}}
own_numbers:
  default: [{provider: gateway}]
"""


@dataclass(frozen=True)
class Victim:
    port: int
    pid: int


class _Gateway(BaseHTTPRequestHandler):
    """The provider: accepts every message."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"message_id": uuid.uuid4().hex}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/send"
    finally:
        server.shutdown()


def topology_url(kind: str, directory: Path) -> str:
    script = ROOT / "scripts" / "redis-topology"
    lines = subprocess.run([script, "env", directory], capture_output=True, text=True, check=True)
    urls = dict(line.split("=", 1) for line in lines.stdout.split())
    return urls[f"OTP_{kind.upper()}_URL"]


def victim(url: str) -> Victim:
    """The primary to kill: the Sentinel's, or the Cluster's primary with the lowest port."""
    client = storage.connect(url)
    if isinstance(client, RedisCluster):
        port = min(node.port for node in client.get_primaries())
    else:
        port = client.connection_pool.get_master_address()[1]
    pid = redis.Redis("127.0.0.1", port).info("server")["process_id"]
    return Victim(port, int(pid))


def revive(dead: Victim, directory: Path) -> float:
    """Start the killed server again; seconds until it is a replica in sync."""
    started = time.monotonic()
    script = ROOT / "scripts" / "redis-topology"
    subprocess.run([script, "revive", str(dead.port), directory], check=True)
    node = redis.Redis("127.0.0.1", dead.port)
    while time.monotonic() - started < GIVE_UP:
        info = node.info("replication")
        if info["role"] == "slave" and info.get("master_link_status") == "up":
            return time.monotonic() - started
        time.sleep(0.2)
    sys.exit(f"the revived server on port {dead.port} did not rejoin as a replica")


def service_env(url: str, gateway_url: str, scratch: Path) -> tuple[dict[str, str], str]:
    routing = scratch / "routing.yaml"
    routing.write_text(ROUTING % gateway_url)
    secret = secrets.token_urlsafe(32)
    env = {
        "REDIS_URL": url,
        "OTP_SECRET": secret,
        "OTP_SIGNING_KEY": generate_pem(),
        "OTP_ROUTING_FILE": str(routing),
        "OTP_SEND_TIMEOUT": str(SEND_TIMEOUT),
        "GW_SECRET": secrets.token_urlsafe(24),
        **HIGH_LIMITS,
    }
    return env, secret


def drive(traffic: Traffic, clients: int, dead: Victim) -> float:
    """Traffic, the kill, traffic until QUIET seconds without a failure; the kill's time."""
    stop = threading.Event()
    threads = run_clients(traffic, clients, stop)
    time.sleep(WARMUP)
    killed = time.time()
    os.kill(dead.pid, signal.SIGKILL)
    while True:
        time.sleep(0.5)
        now = time.time()
        failures = [c.started + c.seconds for c in traffic.calls if not c.ok]
        last = max([f for f in failures if f >= killed], default=killed)
        if (now - killed >= 2 * QUIET and now - last >= QUIET) or now - killed >= GIVE_UP:
            break
    stop.set()
    for thread in threads:
        thread.join()
    return killed


def summary(calls: list[Call], killed: float, twice: list[str]) -> dict[str, Any]:
    """What the clients saw, and the problems that fail the run."""
    failed = [c for c in calls if not c.ok and c.status != 404]
    unavailable = [c for c in calls if c.status == 503]
    window = [c.started + c.seconds - killed for c in failed] or [0.0]  # when answered
    back = max(window)
    problems = {
        "answers neither expected nor 503": [
            f"{c.kind} {c.status or c.error}" for c in calls if c.status not in ALLOWED[c.kind]
        ],
        "503 without Retry-After": [c.kind for c in unavailable if not c.retry_after],
        f"answers slower than {SEND_TIMEOUT} s": [
            f"{c.kind} {c.seconds:.1f} s" for c in calls if c.seconds > SEND_TIMEOUT
        ],
        "verifications approved twice": twice,
        f"not back within {BACK_WITHIN} s": [f"{back:.1f} s"] if back > BACK_WITHIN else [],
    }
    return {
        "calls": len(calls),
        "answers": {
            kind: dict(Counter(str(c.status or c.error) for c in calls if c.kind == kind))
            for kind in ALLOWED
        },
        "503": len(unavailable),
        "failures_from_s": round(min(window), 2),
        "back_after_s": round(back, 2),
        "slowest_s": round(max((c.seconds for c in calls), default=0.0), 2),
        "problems": {name: found[:10] for name, found in problems.items() if found},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["sentinel", "cluster"])
    default_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "otp-redis-topology"
    parser.add_argument("--topology", type=Path, default=default_dir)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    url = topology_url(args.kind, args.topology)
    for name in [k for k in os.environ if k.startswith("OTP_") or k in INHERITED_NOT]:
        del os.environ[name]  # the service runs with this script's settings alone
    storage.connect(url).flushdb()
    dead = victim(url)
    with tempfile.TemporaryDirectory(prefix="otp-failover-") as scratch, gateway() as sends:
        env, secret = service_env(url, sends, Path(scratch))
        gunicorn = argparse.Namespace(workers=2, worker_class="gthread", worker_threads=4)
        with serve(gunicorn, "service", ["wsgi:app"], env, Path(scratch)) as server:
            traffic = Traffic(server.base, secret, timeout=2 * SEND_TIMEOUT)
            killed = drive(traffic, args.clients, dead)
            twice = traffic.recheck()
    rejoined = revive(dead, args.topology)
    report = {
        "topology": args.kind,
        "killed": f"primary 127.0.0.1:{dead.port} (pid {dead.pid}), SIGKILL",
        **summary(traffic.calls, killed, twice),
        "approved": len(traffic.approved),
        "rejoined_as_replica_after_s": round(rejoined, 2),
    }
    print(json.dumps(report, indent=2))
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
