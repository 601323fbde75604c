"""Small pieces shared by the provider adapters: settings, failures, bodies."""

from __future__ import annotations

import hmac
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from .base import ConfigError, FailureClass, ReceiptRejected

# A phone number or a one-time code inside a provider's error text must never reach the logs.
_DIGIT_RUN = re.compile(r"\+?\d[\d ().-]{2,}\d")
MIN_TOKEN_LENGTH = 16


def require(settings: Mapping[str, Any], key: str) -> str:
    """A mandatory string setting; blank counts as absent."""
    value = optional(settings, key)
    if value is None:
        raise ConfigError(key, "is required")
    return value


def optional(settings: Mapping[str, Any], key: str) -> str | None:
    """An optional string setting; None, empty and blank all count as absent."""
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    # An environment variable set to "" stands for "not configured".
    return value if value.strip() else None


def http_url(key: str, url: str) -> SplitResult:
    """The parts of a URL setting that must be http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, "must be an http:// or https:// URL")
    return parts


def missing_extra(extra: str) -> ConfigError:
    """The error for a provider whose SDK is not installed."""
    return ConfigError("type", f"install the '{extra}' extra: pip install otp-service[{extra}]")


def failure_for_status(
    status: int | None, otherwise: FailureClass = FailureClass.ROUTE
) -> FailureClass:
    """Class of an HTTP failure no provider code explains: 429 and 5xx are the provider's
    passing trouble, another 4xx a request it will keep refusing (another provider may not);
    no status or a 2xx/3xx says nothing by itself, so the adapter decides (`otherwise`)."""
    if status is not None and (status == 429 or status >= 500):
        return FailureClass.TRANSIENT
    if status is not None and 400 <= status < 500:
        return FailureClass.ROUTE
    return otherwise


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header looked up without regard to case; empty when absent."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def json_object(body: bytes) -> dict[str, Any]:
    """A response body as a JSON object, or {} when it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def redact(text: str) -> str:
    """Provider error text with digit runs (numbers, codes) masked."""
    return _DIGIT_RUN.sub("***", text)


def post(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """Send the request; (HTTP status, body), an error status's included since providers
    explain it in the body. OSError and HTTPException (refused, reset, timed out) propagate."""
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        return int(response.status), response.read()


def callback_token(settings: Mapping[str, Any]) -> str | None:
    """`callback_token`: the secret a push must carry as `?token=` in the callback URL, for
    providers that sign none of their pushes."""
    token = optional(settings, "callback_token")
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError("callback_token", f"must be at least {MIN_TOKEN_LENGTH} characters")
    return token


def check_url_token(url: str, expected: str | None, kind: str) -> None:
    """Refuse a push whose URL lacks the configured token; compared in constant time."""
    given = dict(parse_qsl(urlsplit(url).query)).get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ReceiptRejected(f"{kind} report without a valid token")


def json_reports(body: bytes, kind: str) -> list[dict[str, Any]]:
    """A pushed body that must be a JSON array of report objects."""
    try:
        reports = json.loads(body)
    except ValueError:
        raise ReceiptRejected(f"{kind} push is not JSON") from None
    if not isinstance(reports, list) or not all(isinstance(r, dict) for r in reports):
        raise ReceiptRejected(f"{kind} push is not an array of reports")
    return reports
