"""One error type, one JSON envelope, handled once for the whole app."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from limits.errors import StorageError
from marshmallow import ValidationError
from redis.exceptions import RedisClusterException, RedisError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# The error codes of the HTTP contract, with the status each one answers.
STATUS: dict[str, int] = {
    "validation_error": 400,
    "invalid_phone": 400,
    "unsupported_channel": 400,
    "invalid_code": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "country_not_allowed": 403,
    "forbidden": 403,
    "idempotency_in_progress": 409,
    "no_route": 422,
    "idempotency_mismatch": 422,
    "rate_limited": 429,
    "too_many_attempts": 429,
    "delivery_failed": 502,
    "unavailable": 503,
    "internal_error": 500,
    # TOTP factors (docs/totp.md)
    "code_replayed": 409,
    "factor_unverified": 409,
    "factor_limit": 409,
    "factor_locked": 429,
    "factor_unreadable": 503,
    # The fraud guard (docs/fraud-guard.md)
    "fraud_blocked": 403,
    "challenge_required": 428,
}

# Seconds a client is told to wait when storage is unreachable.
UNAVAILABLE_RETRY_AFTER = 5


class ApiError(Exception):
    """An answer other than success: a code from STATUS, a message, details."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS[code]
        self.retry_after = retry_after
        self.headers = headers or {}


def envelope(error: ApiError) -> Response:
    """The JSON body and headers every error answer carries."""
    response = jsonify(
        {"error": {"code": error.code, "message": error.message, "details": error.details}}
    )
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, error.retry_after))
    response.headers.update(error.headers)
    return response


def _from_http(exc: HTTPException) -> ApiError:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    codes |= {415: "unsupported_media_type", 429: "rate_limited"}
    status = exc.code or 500
    code = codes.get(status, "validation_error" if status < 500 else "internal_error")
    retry_after = getattr(exc, "retry_after", None)
    return ApiError(code, exc.description or exc.name, status=status, retry_after=retry_after)


def _from_validation(exc: ValidationError) -> ApiError:
    return ApiError("validation_error", "The request body is not valid.", {"fields": exc.messages})


def _from_storage(exc: Exception) -> ApiError:
    log.warning("storage unreachable: %s", exc)
    return ApiError(
        "unavailable",
        "The service's storage is unreachable; try again shortly.",
        retry_after=UNAVAILABLE_RETRY_AFTER,
    )


def _from_unexpected(exc: Exception) -> ApiError:
    log.exception("unhandled error")
    return ApiError("internal_error", "An unexpected error occurred.")


def as_api_error(exc: Exception) -> ApiError:
    """Any exception as the error the envelope shows (for answers in another shape)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    if isinstance(exc, ValidationError):
        return _from_validation(exc)
    if isinstance(exc, RedisError | StorageError):
        return _from_storage(exc)
    return _from_unexpected(exc)


def register(app: Flask) -> None:
    """Route every exception through the envelope."""
    app.register_error_handler(ApiError, envelope)
    app.register_error_handler(HTTPException, lambda e: envelope(_from_http(e)))
    app.register_error_handler(ValidationError, lambda e: envelope(_from_validation(e)))
    app.register_error_handler(RedisError, lambda e: envelope(_from_storage(e)))
    # redis-py's cluster errors (no node for a slot while a failover settles) are not RedisError.
    app.register_error_handler(RedisClusterException, lambda e: envelope(_from_storage(e)))
    app.register_error_handler(StorageError, lambda e: envelope(_from_storage(e)))
    app.register_error_handler(Exception, lambda e: envelope(_from_unexpected(e)))
