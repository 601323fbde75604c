"""gunicorn settings for the service: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import json
import multiprocessing
import os

bind = os.environ.get("OTP_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("OTP_THREADS", "4"))
timeout = 30
# On SIGTERM a worker stops accepting and finishes its in-flight requests within this time.
graceful_timeout = 25
keepalive = 5
accesslog = "-"
access_log_format = json.dumps(
    {
        "log": "access",
        "remote": "%(h)s",
        "method": "%(m)s",
        "path": "%(U)s",
        "status": "%(s)s",
        "bytes": "%(B)s",
        "duration_ms": "%(M)s",
        "request_id": "%({x-request-id}o)s",
    }
)
