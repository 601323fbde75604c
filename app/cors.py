"""Cross-origin calls from the login pages of the origins in OTP_CORS_ORIGINS (flask-cors).

With no origins configured no CORS header is ever sent, and browsers keep other sites'
pages from reading any answer.
"""

from __future__ import annotations

import re

from flask import Flask, Response, request
from flask_cors import CORS

from app.settings import Settings

# What a browser page may call: the public verification endpoints, the token keys, and in
# development the outbox.
RESOURCES: list[str | re.Pattern[str]] = [r"/otp/.*", r"/\.well-known/jwks\.json", r"/dev/outbox"]
ALLOW_HEADERS = ["Content-Type", "Authorization", "Idempotency-Key", "X-Request-ID"]
EXPOSE_HEADERS = [
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Reset",
]


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    CORS(
        app,
        resources=RESOURCES,
        origins=list(settings.cors_origins),
        methods=["GET", "POST"],
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        max_age=settings.cors_max_age,
        supports_credentials=settings.cors_credentials,
    )

    @app.after_request
    def preflight_without_content(response: Response) -> Response:
        """A preflight is answered 204: headers only."""
        preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if preflight and response.status_code == 200:
            response.status_code = 204
            response.set_data(b"")
        return response
