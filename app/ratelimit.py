"""Per-client-IP limits through flask-limiter, on the service's own Redis.

`POST /otp/request` and `POST /otp/<id>/resend` share one budget (each sends a message);
`POST /otp/verify` has its own. Trusted callers (an API key) are exempt: a backend calling
for many users shares one address. Per-destination send quotas are not here: the create and
resend scripts count them in the same round trip as the state change, so a refused request
(no_route, invalid number) never counts against a destination.

flask-limiter's own settings (RATELIMIT_STRATEGY, RATELIMIT_HEADERS_ENABLED, ...) are taken
from the environment by their own names (app/settings.py RATELIMIT_SETTINGS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import urlparse

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, HeaderNames, Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from app import keys, storage
from app.api import auth
from app.errors import ApiError, envelope

# endpoint -> (the Settings attribute holding its per-IP limit, the budget it draws from)
LIMITED_ENDPOINTS = {
    "otp.request_code": ("limit_ip_request", "otp-send"),
    "otp.resend": ("limit_ip_request", "otp-send"),
    "otp.verify_code": ("limit_ip_verify", "otp-verify"),
}
# The IETF RateLimit fields: RateLimit-Reset in seconds; the reset time as a Unix time in
# X-RateLimit-Reset. Retry-After stays on refusals only.
HEADER_NAMES = {
    HeaderNames.LIMIT: "RateLimit-Limit",
    HeaderNames.REMAINING: "RateLimit-Remaining",
    HeaderNames.RETRY_AFTER: "RateLimit-Reset",
    HeaderNames.RESET: "X-RateLimit-Reset",
}


def init_app(app: Flask, redis_url: str, client: Any) -> Limiter:
    settings = app.extensions["otp"].settings
    app.config.update(settings.ratelimit)
    options: dict[str, Any] = {}
    uri = app.config.get("RATELIMIT_STORAGE_URI")
    if not uri:
        uri = storage.limits_uri(redis_url)
        if urlparse(redis_url).scheme in {"redis", "rediss", "unix"}:
            options["connection_pool"] = client.connection_pool  # one pool for the whole app
    # One application-wide limit per budget, each exempt outside its endpoints: flask-limiter
    # then checks a request once, before it is dispatched, where a limit decorating the view
    # is checked twice (once there, once in the view) at about twice the cost.
    budgets = {budget: attribute for attribute, budget in LIMITED_ENDPOINTS.values()}
    limiter = Limiter(
        _client,
        storage_uri=uri,
        storage_options=options,
        key_prefix=app.config.get("RATELIMIT_KEY_PREFIX", keys.prefix()),
        header_name_mapping=HEADER_NAMES,
        application_limits=[
            _Budget(
                getattr(settings, attribute), scope=budget, exempt_when=partial(_exempt, budget)
            )
            for budget, attribute in budgets.items()
        ],
    )
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, lambda _: _refused(limiter))
    return limiter


class _Budget(ApplicationLimit):
    """An application limit whose rate-limit text is parsed once: flask-limiter otherwise
    parses it, and builds the limits it checks from it, on every request."""

    def __iter__(self) -> Iterator[Any]:
        built: list[Any] | None = self.__dict__.get("built")
        if built is None:
            built = self.__dict__["built"] = list(super().__iter__())
        return iter(built)


def _client() -> str:
    """Whom a per-IP limit counts: the client's address, an IPv6 one by its /64 (as the fraud
    guard counts it), so that walking through one's own addresses does not reset the limit."""
    address = get_remote_address()
    return keys.client_address(address) or address


def _exempt(budget: str) -> bool:
    """Whether the request at hand does not draw from `budget`: another endpoint's, or a
    trusted caller's (a wrong API key is refused here already)."""
    drawn = LIMITED_ENDPOINTS.get(request.endpoint or "")
    return drawn is None or drawn[1] != budget or auth.is_trusted()


def _refused(limiter: Limiter) -> Response:
    """The envelope for a client over its limit, with the seconds until its window resets."""
    breached = limiter.current_limit
    wait = int(breached.reset_at - time.time()) if breached else 1
    return envelope(
        ApiError(
            "rate_limited",
            "Too many requests from this client; slow down.",
            {"reason": "client_ip"},
            retry_after=wait,
        )
    )
