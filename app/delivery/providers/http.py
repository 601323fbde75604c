"""Generic HTTP adapter: each message is POSTed as signed JSON to the user's own endpoint.

Wire format (v1)
----------------
Request: ``POST <url>`` with ``Content-Type: application/json`` and a compact JSON body, keys in
this order (``sender`` is null unless the route names the tenant's own sender)::

    {"id":"<verification id>","to":"+14155552671","channel":"sms","purpose":"login",
     "locale":"en","code":"123456","text":"Your code is 123456","ttl_minutes":10,"sender":null}

Headers:

- ``X-OTP-Timestamp``: Unix time in whole seconds at signing.
- ``X-OTP-Signature``: ``v1=`` followed by the lowercase hex HMAC-SHA256, keyed with the
  provider's ``secret``, of ``f"{timestamp}.{body}"`` where body is the exact bytes received.
  Receivers should recompute it, compare in constant time and refuse timestamps more than
  5 minutes away from their clock.

Answers:

- 2xx: accepted. An optional JSON body ``{"message_id": "..."}`` names the message; without it a
  generated id is used.
- 4xx with JSON ``{"error": {"class": "permanent" | "route", "code": "..."}}``: ``permanent``
  means the recipient is invalid or opted out (no other provider is tried), ``route`` means this
  service cannot reach the recipient (the next provider is tried). Any other 4xx or 3xx counts
  as ``route``; redirects are not followed.
- 429, 5xx, timeouts and connection failures are transient (the next provider is tried).

Delivery receipts: the service POSTs a JSON object, or a list of them,
``{"message_id": "...", "status": "delivered" | "undelivered" | "failed", "code": "..."}``
(``code`` optional) to this provider's receipt endpoint, signed the same way: same two headers,
same secret, same 5-minute window. The service answers ``200 {"accepted": n}``, n being the
receipts it had not seen before.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from ._common import failure_for_status, header, http_url, json_object, require
from .base import (
    CHANNELS,
    CallbackRequest,
    ConfigError,
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    ReceiptRejected,
    SendResult,
)

RECEIPT_WINDOW_SECONDS = 300
_STATUSES = frozenset({"delivered", "undelivered", "failed"})
_DECLARED_CLASSES = frozenset({FailureClass.PERMANENT.value, FailureClass.ROUTE.value})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Turn 3xx into an HTTPError: urllib would replay the POST as a bodiless GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpProvider:
    """POSTs every message, on any channel, to the user's own delivery service."""

    kind: ClassVar[str] = "http"
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self, name: str, channels: frozenset[str], url: str, secret: bytes, timeout: float
    ) -> None:
        self.name = name
        self.channels = channels
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate url, secret and the optional timeout override."""
        url = require(settings, "url")
        http_url("url", url)
        secret = require(settings, "secret").encode()
        return cls(
            name, channels, url, secret, _timeout(settings.get("timeout"), context.send_timeout)
        )

    def send(self, message: Message) -> SendResult:
        """POST the message; the service's message_id (or a generated one) is the id."""
        body = _body(message)
        headers = {"Content-Type": "application/json", **_signed_headers(self._secret, body)}
        # The scheme was checked in from_settings, so urllib cannot open a file: URL here.
        request = urllib.request.Request(self._url, body, headers, method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return SendResult(message_id=_message_id(response.read()))
        except urllib.error.HTTPError as exc:
            raise _http_error(exc.code, _error_body(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise ProviderError(
                FailureClass.TRANSIENT, f"http endpoint unreachable: {exc}"
            ) from exc

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the signature and timestamp, then read one receipt or a list of them."""
        _verify(self._secret, request.headers, request.body)
        try:
            reports = json.loads(request.body)
        except ValueError as exc:
            raise ReceiptRejected("receipt body is not JSON") from exc
        return [
            _receipt(report) for report in (reports if isinstance(reports, list) else [reports])
        ]


def _timeout(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError("timeout", "must be a positive number of seconds")
    return float(value)


def _body(message: Message) -> bytes:
    fields = {
        "id": message.verification_id,
        "to": message.to,
        "channel": message.channel,
        "purpose": message.purpose,
        "locale": message.locale,
        "code": message.code,
        "text": message.text,
        "ttl_minutes": message.ttl_minutes,
        "sender": message.sender,
    }
    return json.dumps(fields, separators=(",", ":")).encode()


def _signed_headers(secret: bytes, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"X-OTP-Timestamp": timestamp, "X-OTP-Signature": _signature(secret, timestamp, body)}


def _signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def _verify(secret: bytes, headers: Mapping[str, str], body: bytes) -> None:
    timestamp = header(headers, "X-OTP-Timestamp")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > RECEIPT_WINDOW_SECONDS:
        raise ReceiptRejected("missing or stale X-OTP-Timestamp")
    expected = _signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, header(headers, "X-OTP-Signature").encode()):
        raise ReceiptRejected("bad X-OTP-Signature")


def _receipt(report: Any) -> Receipt:
    if not isinstance(report, dict):
        raise ReceiptRejected("a receipt must be a JSON object")
    message_id, status, code = report.get("message_id"), report.get("status"), report.get("code")
    if not isinstance(message_id, str) or not message_id or status not in _STATUSES:
        raise ReceiptRejected("a receipt needs a message_id and a known status")
    return Receipt(message_id=message_id, status=status, provider_code=_text(code))


def _message_id(body: bytes) -> str:
    message_id = json_object(body).get("message_id")
    return message_id if isinstance(message_id, str) and message_id else f"http-{uuid.uuid4().hex}"


def _http_error(status: int, body: bytes) -> ProviderError:
    error = json_object(body).get("error")
    error = error if isinstance(error, dict) else {}
    failure = failure_for_status(status)
    if (
        failure is FailureClass.ROUTE
        and 400 <= status < 500
        and error.get("class") in _DECLARED_CLASSES
    ):
        failure = FailureClass(error["class"])
    code = _text(error.get("code"))
    return ProviderError(failure, f"http endpoint answered {status}", code or str(status))


def _error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        with exc:  # releases the connection the error response holds
            return exc.read()
    except (OSError, http.client.HTTPException):
        return b""  # the status alone still classifies the failure


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
