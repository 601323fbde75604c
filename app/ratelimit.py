"""Per-client-IP limits on the service's Redis, with the `limits` package's fixed windows.

These are flask-limiter's own storage and strategy, called directly from one before-request
hook for the two limited endpoints: flask-limiter's per-request machinery (limit resolution,
exemptions, its own before/after hooks on every request) took about a sixth of the CPU of a
verify under load, for nothing this service uses. Per-destination send quotas are counted by
the create and resend scripts themselves, in the same round trip as the state change, so a
refused request (no_route, invalid number) never counts against a destination.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app import storage
from app.errors import ApiError

# endpoint -> the Settings attribute holding its per-IP limit
LIMITED_ENDPOINTS = {"otp.request_code": "limit_ip_request", "otp.verify_code": "limit_ip_verify"}
KEY_PREFIX = "otp:ip"


def init_app(app: Flask, redis_url: str, client: Any) -> None:
    settings = app.extensions["otp"].settings
    options: dict[str, Any] = {"key_prefix": KEY_PREFIX}
    if urlparse(redis_url).scheme in {"redis", "rediss", "unix"}:
        options["connection_pool"] = client.connection_pool  # one pool for the whole app
    strategy = FixedWindowRateLimiter(storage_from_string(storage.limits_uri(redis_url), **options))
    limits = {
        endpoint: parse_many(getattr(settings, attribute))
        for endpoint, attribute in LIMITED_ENDPOINTS.items()
    }

    @app.before_request
    def check() -> None:
        items = limits.get(request.endpoint or "")
        if items:
            _check(strategy, items, request.endpoint or "", request.remote_addr or "")


def _check(
    strategy: FixedWindowRateLimiter, items: list[RateLimitItem], endpoint: str, address: str
) -> None:
    """Count one hit on every limit of the endpoint; refuse when one of them is used up."""
    for item in items:
        if not strategy.hit(item, endpoint, address):
            reset = strategy.get_window_stats(item, endpoint, address).reset_time
            raise ApiError(
                "rate_limited",
                "Too many requests from this client; slow down.",
                {"reason": "client_ip"},
                retry_after=int(reset - time.time()) + 1,
            )
