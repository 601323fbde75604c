"""Per-client-IP limits with flask-limiter on the service's Redis.

Per-destination send quotas are counted by the create and resend scripts themselves, in the
same round trip as the state change, so a refused request (no_route, invalid number) never
counts against a destination.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from flask import Flask, Response
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from app import storage
from app.errors import ApiError, envelope

# endpoint -> the Settings attribute holding its per-IP limit
LIMITED_ENDPOINTS = {"otp.request_code": "limit_ip_request", "otp.verify_code": "limit_ip_verify"}


def init_app(app: Flask, redis_url: str, client: object) -> Limiter:
    settings = app.extensions["otp"].settings
    options: dict[str, Any] = {}
    if urlparse(redis_url).scheme in {"redis", "rediss", "unix"}:
        options["connection_pool"] = client.connection_pool  # type: ignore[attr-defined]
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage.limits_uri(redis_url),
        storage_options=options,
        strategy="fixed-window",
        key_prefix="otp",
        headers_enabled=False,
    )
    for endpoint, attribute in LIMITED_ENDPOINTS.items():
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(getattr(settings, attribute))(view)  # type: ignore[assignment]
    app.register_error_handler(RateLimitExceeded, lambda exc: _limited(limiter))
    return limiter


def _limited(limiter: Limiter) -> Response:
    current = limiter.current_limit
    retry_after = int(current.reset_at - time.time()) + 1 if current else 60
    return envelope(
        ApiError(
            "rate_limited",
            "Too many requests from this client; slow down.",
            {"reason": "client_ip"},
            retry_after=retry_after,
        )
    )
