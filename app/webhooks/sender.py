"""Signed webhooks to the business system: queued in one Redis command, sent by a thread."""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from http.client import HTTPException
from typing import Any

from redis.exceptions import RedisError

from . import signing
from .config import EVENTS, Endpoint, display_url
from .queue import Job, JobQueue

log = logging.getLogger(__name__)

# What an event's data may carry: never a code, and a destination only masked.
DATA_KEYS = frozenset(
    {"id", "status", "channel", "to", "country", "purpose", "provider", "reason", "attempts"}
    | {"scope", "value", "mode", "step", "until"}  # fraud.blocked, fraud.unblocked
)
# Events after which a verification can no longer expire.
SETTLING_EVENTS = frozenset({"verification.approved", "verification.failed", "delivery.failed"})
BLOCK_SECONDS = 1.0  # longest wait for a job, so stop() and due retries are noticed
SILENT_SECONDS = 60.0  # a sender without a heartbeat this long is dead
RECOVER_EVERY = 15.0
BACKOFF_CAP = 300.0
REDIS_PAUSE_CAP = 30.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: the signed body goes only to the configured URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Webhooks:
    """Queues events for the business system and delivers them with retries, in background."""

    def __init__(
        self,
        client: Any,
        endpoints: Iterable[Endpoint],
        max_age: float = 3600,
        *,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        autostart: bool = True,
    ) -> None:
        self.endpoints = {endpoint.url: endpoint for endpoint in endpoints}
        self.max_age = max_age
        self.timeout = timeout
        self.clock = clock
        self.autostart = autostart  # off where processes are short-lived (RQ work horses)
        self.queue = JobQueue(client, ttl=int(max_age) + 60)
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pid = 0
        self._sender = ""
        self._next_recovery = 0.0

    def wants(self, event: str) -> bool:
        """Whether emitting `event` does anything, so callers can skip gathering its data."""
        return self._settles(event) or self._subscribed(event)

    def emit(self, event: str, data: Mapping[str, Any]) -> None:
        """Queue `event` for its subscribers: at most one Redis command, never waits on them."""
        jobs = self._jobs(event, data, self.clock())
        settling = self._settles(event)
        if not jobs and not settling:
            return
        try:
            dropped = self.queue.push(jobs, str(data["id"]) if settling else "")
        except RedisError:
            log.warning("webhook not queued: Redis unavailable", extra={"event": event})
            return
        if dropped:
            log.warning("webhook queue full: oldest deliveries dropped", extra={"count": dropped})
        if jobs:
            self._ensure_running()

    def schedule_expiry(self, data: Mapping[str, Any], expires_at: float) -> None:
        """Send `verification.expired` at `expires_at` unless a settling event comes first."""
        jobs = self._jobs("verification.expired", {**data, "status": "expired"}, expires_at)
        if not jobs:
            return
        try:
            self.queue.schedule(str(data["id"]), expires_at, jobs, self.clock())
        except RedisError:
            log.warning("webhook expiry not scheduled: Redis unavailable")
            return
        self._ensure_running()

    def cancel_expiry(self, verification_id: str) -> None:
        """Drop a scheduled `verification.expired` (for a cancelled verification)."""
        if self._subscribed("verification.expired"):
            try:
                self.queue.push([], verification_id)
            except RedisError:
                log.warning("webhook expiry not cancelled: Redis unavailable")

    def start(self) -> None:
        """Start this process's sender thread (after a fork, never at import)."""
        with self._lock:
            if not self.endpoints or (self._thread and self._thread.is_alive()):
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="otp-webhooks", daemon=True)
            self._thread.start()
            # Daemon threads are cut off at exit; this lets a worker's shutdown wait for the POST.
            atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the sender thread once its in-flight delivery is done."""
        atexit.unregister(self.stop)
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(BLOCK_SECONDS + self.timeout + 1)
        if not thread.is_alive():  # else its heartbeat goes stale and another sender takes over
            self._leave()

    def run_once(self) -> int:
        """Deliver every job due now, in the calling thread (tests, one-off runs); POSTs made."""
        sender = self._sender_id()
        self._prepare(sender)
        posts = 0
        while (raw := self.queue.claim(sender, None)) is not None:
            posts += self._handle(sender, raw)
        return posts

    def _subscribed(self, event: str) -> bool:
        return any(event in endpoint.events for endpoint in self.endpoints.values())

    def _settles(self, event: str) -> bool:
        """Whether `event` ends a verification whose expiry event may be scheduled."""
        return event in SETTLING_EVENTS and self._subscribed("verification.expired")

    def _jobs(self, event: str, data: Mapping[str, Any], created: float) -> list[str]:
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        unknown = set(data) - DATA_KEYS
        if unknown:
            raise ValueError(f"webhook data may not carry {sorted(unknown)}")
        if "*" not in str(data.get("to", "*")):
            raise ValueError("webhook data must carry a masked destination")
        urls = [url for url, endpoint in self.endpoints.items() if event in endpoint.events]
        if not urls:
            return []
        event_id = uuid.uuid4().hex
        content = {"id": event_id, "event": event, "created": int(created), "data": dict(data)}
        body = json.dumps(content, separators=(",", ":"))
        return [Job(event_id, event, url, body, created).encode() for url in urls]

    def _ensure_running(self) -> None:
        if self.autostart and not (self._thread and self._thread.is_alive()):
            self.start()

    def _sender_id(self) -> str:
        """This process's name in Redis; a forked child gets its own."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._sender = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
        return self._sender

    def _loop(self) -> None:
        sender = self._sender_id()
        failures = 0
        while not self._stopping.is_set():
            try:
                self._prepare(sender)
                raw = self.queue.claim(sender, BLOCK_SECONDS)
                if raw is not None:
                    self._handle(sender, raw)
                failures = 0
            except RedisError:
                if not failures:
                    log.warning("webhook sender: Redis unavailable", exc_info=True)
                failures += 1
                self._stopping.wait(min(REDIS_PAUSE_CAP, 2.0**failures))

    def _prepare(self, sender: str) -> None:
        """Heartbeat, due jobs to the queue, and now and then the jobs of dead senders."""
        now = self.clock()
        self.queue.tick(sender, now)
        if now < self._next_recovery:
            return
        self._next_recovery = now + RECOVER_EVERY
        for dead in self.queue.silent_senders(now - SILENT_SECONDS):
            if dead != sender and (moved := self.queue.recover(dead)):
                log.warning("webhooks of a dead sender re-queued", extra={"count": moved})

    def _handle(self, sender: str, raw: bytes) -> int:
        """Try one claimed job; 1 if it was POSTed."""
        job, now = Job.decode(raw), self.clock()
        if now >= job.first + self.max_age:
            self._give_up(sender, raw, job, "too old to send")
            return 0
        endpoint = self.endpoints.get(job.url)
        # A rolling deploy may queue for an endpoint this process does not know yet.
        error = self._post(endpoint, job, now) if endpoint else "endpoint not configured here"
        if error is None:
            self.queue.done(sender, raw)
            log.info("webhook delivered", extra=_fields(job, tries=job.tries + 1))
        else:
            self._retry(sender, raw, job, error, now)
        return 0 if endpoint is None else 1

    def _post(self, endpoint: Endpoint, job: Job, now: float) -> str | None:
        """POST one job; None when the endpoint answered 2xx, else what went wrong."""
        body = job.body.encode()
        headers = signing.headers(endpoint, job.id, job.event, body, now)
        request = urllib.request.Request(job.url, body, headers, method="POST")  # noqa: S310 (http(s) only)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return f"HTTP {exc.code}"
        except (OSError, HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _retry(self, sender: str, raw: bytes, job: Job, error: str, now: float) -> None:
        tried = replace(job, tries=job.tries + 1)
        due = now + min(BACKOFF_CAP, 2.0**job.tries)
        if due >= job.first + self.max_age:
            self._give_up(sender, raw, tried, error)
            return
        self.queue.retry(sender, raw, tried, due)
        log.info("webhook failed; will retry", extra=_fields(tried, error=error, retry_at=due))

    def _give_up(self, sender: str, raw: bytes, job: Job, error: str) -> None:
        self.queue.done(sender, raw)
        log.warning("webhook given up", extra=_fields(job, error=error))

    def _leave(self) -> None:
        try:
            self.queue.leave(self._sender_id())
        except RedisError:
            log.warning("webhook sender could not sign off: Redis unavailable")


def _fields(job: Job, **more: Any) -> dict[str, Any]:
    """Log fields of a job: never its body, only which event went where."""
    fields = {"webhook_id": job.id, "event": job.event, "url": display_url(job.url)}
    return {**fields, "tries": job.tries, **more}
