"""The OpenAPI description of the Twilio Verify compatible API (/v2), with its own security
scheme (HTTP Basic) and Twilio's resource and error shapes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.delivery.autofill import APP_HASH_PATTERN

from . import twilio_shapes as shapes

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "basic",
    "description": "As Twilio's SDKs send it: the username is OTP_TWILIO_ACCOUNT_SID, the "
    "password one of OTP_API_KEYS. Only with OTP_TWILIO_ACCOUNT_SID set.",
}
TAG = {
    "name": "twilio",
    "description": "A drop-in for Twilio Verify v2 (Verification and VerificationCheck): "
    "point a Twilio SDK's Verify base URL here. Form-encoded parameters; every answer, "
    "errors included, in Twilio's JSON shape. Served only with OTP_TWILIO_ACCOUNT_SID set.",
}
PATH_PARAMETERS = {
    "service_sid": ("A Verify service SID of OTP_TWILIO_SERVICES.", "VA" + "2f" * 16),
    "sid": (
        "The verification's `VE` SID, or the phone number (E.164) or e-mail address it "
        "was sent to.",
        "VE" + "3c" * 16,
    ),
}

_SID = {"type": "string", "pattern": "^VE[0-9a-f]{32}$"}
_DATE = {"type": "string", "format": "date-time"}
_NOTHING = {"type": "null", "description": "Not offered by this service."}
_COMMON = {
    "sid": _SID,
    "service_sid": {"type": "string", "pattern": "^VA[0-9a-fA-F]{32}$"},
    "account_sid": {"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$"},
    "to": {"type": "string", "description": "The phone number (E.164) or e-mail address."},
    "channel": {"enum": [*shapes.CHANNELS.values(), "wechat"]},
    "status": {"enum": list(shapes.STATUSES.values())},
    "valid": {"type": "boolean", "description": "Whether the status is `approved`."},
    "amount": _NOTHING,
    "payee": _NOTHING,
    "date_created": _DATE,
    "date_updated": _DATE,
}
_CARRIER = {
    "type": ["object", "null"],
    "description": "Null for an e-mail address. `type` is the line type the number's "
    "classification tells (null when it does not); the carrier's name and codes are unknown.",
    "properties": {
        "type": {"enum": [*shapes.LINE_TYPES.values(), None]},
        "name": {"type": "null"},
        "mobile_country_code": {"type": "null"},
        "mobile_network_code": {"type": "null"},
        "error_code": {"type": "null"},
    },
}
_SEND = {
    "type": "object",
    "required": ["attempt_sid", "channel", "time"],
    "properties": {
        "attempt_sid": {"type": "string", "pattern": "^VL[0-9a-f]{32}$"},
        "channel": {"enum": [*shapes.CHANNELS.values(), "wechat"]},
        "time": _DATE,
    },
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "TwilioVerification": {
        "type": "object",
        "required": [*_COMMON, "lookup", "send_code_attempts", "sna", "url"],
        "properties": {
            **_COMMON,
            "lookup": {"type": "object", "properties": {"carrier": _CARRIER}},
            "send_code_attempts": {
                "type": "array",
                "items": _SEND,
                "description": "The sends asked for through this API, first one first.",
            },
            "sna": _NOTHING,
            "url": {"type": "string", "format": "uri"},
        },
    },
    "TwilioVerificationCheck": {
        "type": "object",
        "required": [*_COMMON, "sna_attempts_error_codes"],
        "properties": {
            **_COMMON,
            "sna_attempts_error_codes": {"type": "array", "maxItems": 0},
            "otp_token": {
                "type": "string",
                "description": "With `approved` only, and not part of Twilio's resource (the "
                "SDKs skip it): this service's EdDSA-signed JWT, its `vid` the SID.",
            },
        },
    },
    "TwilioError": {
        "type": "object",
        "required": ["code", "message", "more_info", "status"],
        "properties": {
            "code": {"type": "integer", "description": "Twilio's error code."},
            "message": {"type": "string"},
            "more_info": {"type": "string", "format": "uri"},
            "status": {"type": "integer"},
        },
    },
}

_VERIFICATIONS_OF_SAMPLE = f"/v2/Services/{PATH_PARAMETERS['service_sid'][1]}/Verifications"
_SAMPLE = shapes.Shown(
    sid="VE" + "3c" * 16,
    service_sid=PATH_PARAMETERS["service_sid"][1],
    account_sid="AC" + "1d" * 16,
    to="+8613800138000",
    channel="sms",
    status="pending",
    created=1795304092,
    updated=1795304092,
    sends=[shapes.send_attempt("VL" + "5e" * 16, "sms", 1795304092)],
    line_type="mobile",
    email=False,
)
_URL = f"https://otp.example.com{_VERIFICATIONS_OF_SAMPLE}/{_SAMPLE.sid}"
_RESENT = replace(
    _SAMPLE,
    channel="voice",
    updated=1795304152,
    sends=[*_SAMPLE.sends, shapes.send_attempt("VL" + "6f" * 16, "voice", 1795304152)],
)
_APPROVED = replace(_SAMPLE, status="approved", updated=1795304140)
_JWT = "eyJhbGciOiJFZERTQSJ9.eyJ2aWQiOiJWRTNjM2MifQ.c2lnbmF0dXJl"

# (Twilio code, HTTP status, message) of every error this API answers, by name.
_ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid_parameter": (60200, 400, "Invalid parameter `To`: +86138001"),
    "unsupported_parameter": (
        60200,
        400,
        "Parameter CustomCode is not supported here; this takes To, Channel, Locale, "
        "CustomFriendlyName, AppHash.",
    ),
    "no_target": (60221, 400, "Either a 'To' number or 'VerificationSid' must be specified."),
    "no_route": (60223, 400, "No provider can deliver sms to BR now."),
    "authenticate": (20003, 401, "Authenticate"),
    "landline": (60205, 403, "A fixed-line number cannot receive sms messages; use voice."),
    "country_blocked": (60605, 403, "Sending to KP is not allowed."),
    "not_found": (20404, 404, "The requested resource was not found."),
    "max_checks": (60202, 429, "Max check attempts reached."),
    "max_sends": (60203, 429, "This verification has been sent too many times."),
    "too_soon": (60212, 429, "Wait before asking for the code again."),
    "destination_quota": (20429, 429, "Too many codes sent to this destination; try later."),
    "internal": (20500, 500, "An unexpected error occurred."),
    "unavailable": (20503, 503, "The service's storage is unreachable; try again shortly."),
}


def _errors(*names: str) -> dict[str, Any]:
    """Error answers by status, one example per name; authentication, a service that is not
    configured, a fault and storage trouble can happen anywhere."""
    grouped: dict[int, dict[str, Any]] = {}
    for name in (*names, "authenticate", "not_found", "internal", "unavailable"):
        code, status, message = _ERRORS[name]
        example = {"summary": f"{code}", "value": shapes.error_body(code, status, message)}
        grouped.setdefault(status, {})[name] = example
    return {
        str(status): {
            "description": ", ".join(example["summary"] for example in examples.values()),
            "content": {"application/json": {"schema": _ref("TwilioError"), "examples": examples}},
        }
        for status, examples in sorted(grouped.items())
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _resource(description: str, schema: str, examples: dict[str, Any]) -> dict[str, Any]:
    named = {name: {"value": value} for name, value in examples.items()}
    content = {"schema": _ref(schema), "examples": named}
    return {"description": description, "content": {"application/json": content}}


def _form(properties: dict[str, Any], required: list[str], example: dict[str, str]) -> Any:
    schema = {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }
    form = {"schema": schema, "example": example}
    description = "Form-encoded, as Twilio's SDKs send it; any other parameter is refused (60200)."
    content = {"application/x-www-form-urlencoded": form}
    return {"required": True, "description": description, "content": content}


def _operation(summary: str, description: str, **more: Any) -> dict[str, Any]:
    return {
        "tags": ["twilio"],
        "summary": summary,
        "description": description,
        **more,
        "security": [{"twilioBasic": []}],
        "x-caller": "trusted",
    }


_VERIFICATIONS = "/v2/Services/{service_sid}/Verifications"
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (_VERIFICATIONS, "post"): _operation(
        "Start a verification (Twilio's Verification create)",
        "Sends a code to `To` on `Channel` (`sms`, `call`, `whatsapp`, `email`) for the "
        "service's purpose. A second create for the same `To` while one is pending sends the "
        "same code again (on the channel now asked for) and answers the same `sid` with one "
        "more send attempt. Limits answer Twilio's codes: 60203 too many sends, 60212 too "
        "soon after the last one, 20429 the destination's hourly or daily quota; 60202 when "
        "the pending verification's checks are spent.",
        requestBody=_form(
            {
                "To": {"type": "string", "description": "E.164 phone number, or e-mail."},
                "Channel": {"enum": list(shapes.FROM_TWILIO_CHANNEL)},
                "Locale": {"type": "string", "description": "The message's language (en)."},
                "CustomFriendlyName": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 30,
                    "description": "The name `{app}` stands for in this verification's texts, "
                    "in place of OTP_ISSUER: no @ or #, no surrounding spaces.",
                },
                "AppHash": {
                    "type": "string",
                    "pattern": APP_HASH_PATTERN,
                    "description": "Android's SMS Retriever hash, on its own line after the "
                    "SMS text (SMS only).",
                },
            },
            ["To", "Channel"],
            {"To": "+8613800138000", "Channel": "sms"},
        ),
        responses={
            "201": _resource(
                "The code is on its way.",
                "TwilioVerification",
                {
                    "created": shapes.verification(_SAMPLE, _URL),
                    "resent": shapes.verification(_RESENT, _URL),
                },
            ),
            **_errors(
                "invalid_parameter",
                "unsupported_parameter",
                "no_route",
                "landline",
                "country_blocked",
                "max_checks",
                "max_sends",
                "too_soon",
                "destination_quota",
            ),
        },
    ),
    ("/v2/Services/{service_sid}/VerificationCheck", "post"): _operation(
        "Check a code (Twilio's VerificationCheck create)",
        "`Code` with `To` or `VerificationSid`. A wrong code answers 200 with `status: "
        "pending` and `valid: false`, the wrong code that spends the last try 200 with "
        "`max_attempts_reached`; the right one 200 `approved`. Once the tries are spent: "
        "60202; unknown, expired, canceled or already approved: 20404.",
        requestBody=_form(
            {
                "Code": {"type": "string", "minLength": 4, "maxLength": 10},
                "To": {"type": "string"},
                "VerificationSid": _SID,
            },
            ["Code"],
            {"To": "+8613800138000", "Code": "779283"},
        ),
        responses={
            "200": _resource(
                "The check's outcome.",
                "TwilioVerificationCheck",
                {
                    "approved": shapes.verification_check(_APPROVED, _JWT),
                    "wrong_code": shapes.verification_check(_SAMPLE, None),
                },
            ),
            **_errors("invalid_parameter", "no_target", "max_checks"),
        },
    ),
    (_VERIFICATIONS + "/{sid}", "get"): _operation(
        "Fetch a verification (Twilio's Verification fetch)",
        "By its SID, or by the phone number or e-mail address it was sent to; until it "
        "expires, whatever its status.",
        responses={
            "200": _resource(
                "The verification.",
                "TwilioVerification",
                {"approved": shapes.verification(_APPROVED, _URL)},
            ),
            **_errors(),
        },
    ),
    (_VERIFICATIONS + "/{sid}", "post"): _operation(
        "Cancel or approve a verification (Twilio's Verification update)",
        "`Status=canceled` ends a pending verification; `Status=approved` approves it without "
        "a code, on the backend's own decision (a code it checked itself, another factor).",
        requestBody=_form(
            {"Status": {"enum": ["canceled", "approved"]}},
            ["Status"],
            {"Status": "canceled"},
        ),
        responses={
            "200": _resource(
                "The verification, ended.",
                "TwilioVerification",
                {"approved": shapes.verification(_APPROVED, _URL)},
            ),
            **_errors("invalid_parameter"),
        },
    ),
}
