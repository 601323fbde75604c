"""JSON log lines: one per request and one per send attempt, with phone numbers masked.

The request's line is the access log too (method, masked path and query, status, bytes,
duration, client address, request id): gunicorn's own access log is off unless
`OTP_ACCESS_LOG` turns it on.

Every record carries the request id (from `X-Request-ID`, or a new one) when it is written
inside a request; phone numbers, e-mail addresses and the codes of the request at hand are
masked in messages and tracebacks (app/masking.py), so a log line never carries them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

import orjson
from flask import Flask, Response, g, has_request_context, request

from app import masking
from app.masking import mask_text

# Extra attributes copied from a record into its JSON line when present.
FIELDS = (
    "request_id",
    "verification_id",
    "method",
    "path",
    "endpoint",
    "status",
    "bytes",
    "latency_ms",
    "client",
    "query",
    "country",
    "provider",
    "channel",
    "outcome",
    "error_class",
    "error_code",
    "reason",
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = mask_text(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class RequestIdFilter(logging.Filter):
    """Stamps records written during a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def configure(level: str = "INFO") -> None:
    """JSON lines on standard error for the whole process (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = _StandardError()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root.handlers = [handler]
    root.setLevel(level)
    # Fields no line carries, each costly on every record (the logging HOWTO's "Optimization").
    logging._srcfile = None  # type: ignore[attr-defined]  # no caller lookup
    logging.logThreads = False
    logging.logMultiprocessing = False
    # botocore at DEBUG would log request bodies, which hold the phone number and the code;
    # twilio logs every request's URL and headers at INFO.
    logging.getLogger("botocore").setLevel(logging.INFO)
    logging.getLogger("twilio").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    """Request ids and one log line per request."""
    log = logging.getLogger("app.request")

    @app.before_request
    def start() -> None:
        masking.begin()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        latency = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        query = request.environ.get("QUERY_STRING")
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": mask_text(request.path),
                "query": mask_text(query) if query else None,
                "endpoint": request.url_rule.rule if request.url_rule else None,
                "status": response.status_code,
                "bytes": response.content_length,
                "latency_ms": round(latency, 2),
                "client": request.remote_addr,
                "verification_id": g.get("verification_id"),
            },
        )
        return response
