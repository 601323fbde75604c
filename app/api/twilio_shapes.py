"""Twilio Verify v2 resource and error shapes, and the service's own errors in Twilio's terms.

The Verification and VerificationCheck resources carry the fields of Twilio's published
reference (null where this service has nothing to say: PSD2 `amount` and `payee`, Silent
Network Auth); the SDKs read them by name and ignore any others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify

from app.errors import ApiError

# Twilio's channel names for this service's, and back; `call` is Twilio's word for voice.
CHANNELS = {"sms": "sms", "voice": "call", "whatsapp": "whatsapp", "email": "email"}
FROM_TWILIO_CHANNEL = {twilio: ours for ours, twilio in CHANNELS.items()}
# Twilio's statuses for this service's (app/verification/store.py STATUS_NAMES).
STATUSES = {
    "pending": "pending",
    "approved": "approved",
    "cancelled": "canceled",
    "failed": "failed",
    "too_many_attempts": "max_attempts_reached",
}
# The line types phonenumbers tells apart that Twilio's Lookup names; others are unknown.
LINE_TYPES = {"mobile": "mobile", "fixed_line": "landline", "voip": "voip"}


class TwilioError(Exception):
    """An answer in Twilio's error shape: Twilio's code, the HTTP status it comes with."""

    def __init__(
        self, code: int, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_body(code: int, status: int, message: str) -> dict[str, Any]:
    """Twilio's error body: the SDKs raise it as an exception carrying `code`."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def error_answer(error: TwilioError) -> Response:
    response = jsonify(error_body(error.code, error.status, error.message))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def not_found(what: str = "The requested resource was not found.") -> TwilioError:
    return TwilioError(20404, 404, what)


def invalid(message: str) -> TwilioError:
    return TwilioError(60200, 400, message)


# The service's error codes (and `code.reason` where one code has several causes) in Twilio's
# terms. A refusal by the fraud guard answers 60410 (Verification delivery attempt blocked).
_FROM_SERVICE: dict[str, tuple[int, int]] = {
    "fraud_blocked": (60410, 403),
    "validation_error": (60200, 400),
    "invalid_phone": (60200, 400),
    "unsupported_channel": (60205, 403),
    "country_not_allowed": (60605, 403),
    "no_route": (60223, 400),
    "rate_limited.resend_cooldown": (60212, 429),
    "rate_limited.max_sends": (60203, 429),
    "rate_limited.destination_quota": (20429, 429),
    "too_many_attempts": (60202, 429),
    "not_found": (20404, 404),
    "delivery_failed.permanent": (60200, 400),
    "delivery_failed": (20503, 503),
    "unavailable": (20503, 503),
}


def from_service(error: ApiError) -> TwilioError:
    """One of the service's own errors, said the way Twilio says it."""
    detailed = f"{error.code}.{error.details.get('reason')}"
    default = (60200, error.status) if error.status < 500 else (20500, 500)
    code, status = _FROM_SERVICE.get(detailed) or _FROM_SERVICE.get(error.code) or default
    retry = {"Retry-After": str(max(1, error.retry_after))} if error.retry_after else {}
    return TwilioError(code, status, error.message, retry)


@dataclass(frozen=True)
class Shown:
    """What the resources show of one verification."""

    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: str  # this service's name for it
    status: str  # this service's name for it
    created: float
    updated: float
    sends: list[dict[str, str]]  # Twilio's send_code_attempts
    line_type: str | None  # Twilio's carrier type, when the number's kind tells it
    email: bool


def iso(moment: float) -> str:
    """ISO 8601 in UTC to the second, as Twilio writes its dates."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def send_attempt(attempt_sid: str, channel: str, moment: float) -> dict[str, str]:
    """One entry of send_code_attempts."""
    return {
        "attempt_sid": attempt_sid,
        "channel": CHANNELS.get(channel, channel),
        "time": iso(moment),
    }


def _common(shown: Shown) -> dict[str, Any]:
    return {
        "sid": shown.sid,
        "service_sid": shown.service_sid,
        "account_sid": shown.account_sid,
        "to": shown.to,
        "channel": CHANNELS.get(shown.channel, shown.channel),
        "status": STATUSES.get(shown.status, shown.status),
        "valid": shown.status == "approved",
        "amount": None,
        "payee": None,
    }


def verification(shown: Shown, url: str) -> dict[str, Any]:
    """The Verification resource."""
    carrier = None
    if not shown.email:
        carrier = {
            "mobile_country_code": None,
            "type": shown.line_type,
            "error_code": None,
            "mobile_network_code": None,
            "name": None,
        }
    return {
        **_common(shown),
        "lookup": {"carrier": carrier},
        "send_code_attempts": shown.sends,
        "date_created": iso(shown.created),
        "date_updated": iso(shown.updated),
        "sna": None,
        "url": url,
    }


def verification_check(shown: Shown, token: str | None) -> dict[str, Any]:
    """The VerificationCheck resource; an approval adds the service's signed token, a field
    Twilio's resource does not have and the SDKs skip."""
    check = {
        **_common(shown),
        "date_created": iso(shown.created),
        "date_updated": iso(shown.updated),
        "sna_attempts_error_codes": [],
    }
    return {**check, "otp_token": token} if token else check
