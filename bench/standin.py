"""Local stand-ins for the simulator: `http` providers that deliver with set probabilities.

Each provider is a path of one HTTP server on 127.0.0.1. It checks what a real receiver of the
`http` provider's wire format checks (app/delivery/providers/http.py: the v1 signature over the
timestamp and body, within five minutes), accepts the message, and "delivers" it with its
provider's current probability: a delivered code lands in the inbox of its number, where the
simulated user reads it. A message that is accepted and never arrives is the failure the
conversion strategy is for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = secrets.token_hex(16)  # shared with the service through the environment


class Phones:
    """What each provider delivers, and the codes that reached each number."""

    def __init__(self, seed: int) -> None:
        self.delivery: dict[str, float] = {}  # provider path -> probability
        self.inbox: dict[str, str] = {}  # number -> the last code that arrived
        self.accepted: dict[str, int] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def take(self, provider: str, message: dict[str, Any]) -> None:
        with self._lock:
            self.accepted[provider] = self.accepted.get(provider, 0) + 1
            if self._random.random() < self.delivery.get(provider, 1.0):
                self.inbox[message["to"]] = message["code"]

    def read(self, number: str) -> str | None:
        """The code that arrived at `number`, once."""
        with self._lock:
            return self.inbox.pop(number, None)


def _signed(headers: Any, body: bytes) -> bool:
    timestamp = headers.get("X-OTP-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(f"v1={digest.hexdigest()}", headers.get("X-OTP-Signature", ""))


def serve(phones: Phones) -> tuple[ThreadingHTTPServer, str]:
    """Start the stand-in on a free port; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not _signed(self.headers, body):
                self._answer(401, {"error": {"class": "route", "code": "bad_signature"}})
                return
            message = json.loads(body)
            phones.take(self.path.strip("/"), message)
            self._answer(200, {"message_id": f"sim-{message['id'][-8:]}-{time.monotonic_ns()}"})

        def _answer(self, status: int, content: dict[str, Any]) -> None:
            data = json.dumps(content).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
