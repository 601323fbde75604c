"""gunicorn settings for the service: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import json
import os
import runpy
import shutil
import sys
from importlib.util import find_spec
from pathlib import Path

from gunicorn.glogging import Logger

# app/cpus.py and app/masking.py, run without importing the service into this master process:
# importing it would load prometheus_client before PROMETHEUS_MULTIPROC_DIR is set below.
_app_dir = Path(find_spec("app").origin).parent
_cpus = runpy.run_path(str(_app_dir / "cpus.py"))
_masking = runpy.run_path(str(_app_dir / "masking.py"))

bind = os.environ.get("OTP_BIND", "0.0.0.0:8000")
# One per CPU this process may use (its affinity and cgroup quota, not the host's count), 8
# threads each: measured on 2 CPUs (bench/README.md), the least CPU per request and the most
# verifies a second of the layouts tried (4 x 4, 4 x 2, 2 x 4, 2 x 8 threads, 8 sync workers),
# and 16 requests in flight for sends that wait on a provider.
workers = int(os.environ.get("WEB_CONCURRENCY", _cpus["usable"]()))
worker_class = "gthread"
threads = int(os.environ.get("OTP_THREADS", "8"))
timeout = 30
# On SIGTERM a worker stops accepting and finishes its in-flight requests within this time.
graceful_timeout = 25
keepalive = 5
# OTP_REUSE_PORT=true: one listening socket per worker, so the kernel spreads connections over
# the workers instead of letting whichever wins the first accept race keep most of them. Off by
# default: with it a second instance started on the same port (a second `scripts/serve`, a
# stale container) would silently share the port instead of failing with "address in use".
reuse_port = os.environ.get("OTP_REUSE_PORT", "").strip().lower() in {"1", "true", "yes", "on"}
# gunicorn's control socket (a file shared by every instance of a user) is not used.
control_socket_disable = True
# The service's own JSON line of each request is its access log; OTP_ACCESS_LOG ("-" for
# standard output, or a path) turns gunicorn's on as well.
accesslog = os.environ.get("OTP_ACCESS_LOG") or None


class MaskedAccessLog(Logger):
    """gunicorn's logger, with phone numbers and e-mail addresses masked in the access log's
    request line, path, query string and referrer, as the service's own lines are."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _masking["mask_text"](atoms[name])
        return atoms


logger_class = MaskedAccessLog
access_log_format = json.dumps(
    {
        "log": "access",
        "remote": "%(h)s",
        "method": "%(m)s",
        "path": "%(U)s",
        "query": "%(q)s",
        "status": "%(s)s",
        "bytes": "%(B)s",
        "duration_ms": "%(M)s",
        "request_id": "%({x-request-id}o)s",
    }
)

# Every worker writes its metric samples here; /metrics adds them up. Set before the workers
# import prometheus_client, which reads it once.
_metrics_dir = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(os.environ.get("OTP_DATA_DIR", "var")) / "metrics")
    )
)


def when_ready(server: object) -> None:
    """Name the addresses served: with reuse_port the master holds no socket of its own, and
    gunicorn's own line would name none."""
    if reuse_port:
        addresses = [
            f"http://{address[0]}:{address[1]}" if isinstance(address, tuple) else f"unix:{address}"
            for address in server.cfg.address  # type: ignore[attr-defined]
        ]
        server.log.info("Listening at: %s (reuse_port)", ",".join(addresses))  # type: ignore[attr-defined]


def on_starting(server: object) -> None:
    """Check the configuration once, before any worker forks: a problem is printed once and
    nothing starts. Then clear an earlier run's samples, which would add to this one's."""
    # Imported here, after PROMETHEUS_MULTIPROC_DIR is set above; no metric has a sample yet.
    from app import preflight

    problems = preflight.check().problems
    if problems:
        print(*problems, sep="\n", file=sys.stderr)
        print("not started: `flask --app wsgi otp check` lists these too", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """The embedded Redis (no REDIS_URL) stops with the service that started it."""
    if not os.environ.get("REDIS_URL"):
        from app import storage

        storage.stop_embedded(Path(os.environ.get("OTP_DATA_DIR") or "var"))
