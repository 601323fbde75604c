"""The OpenAPI 3.1 document, built from the app's routes and the endpoints' marshmallow schemas."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, jsonify
from marshmallow import Schema

from app.errors import STATUS

from . import factor_schemas as fs
from . import responses as r
from . import twilio_openapi
from .schemas import CodeRequestSchema, VerifySchema

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
_IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
_RULE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_PATH_PARAMETER = re.compile(r"{([^{}]+)}")
_INLINE_BLOCK = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


@bp.get("/openapi.json")
def document() -> Response:
    """This service's OpenAPI 3.1 document."""
    return jsonify(spec_for(current_app))


@bp.get("/docs")
def docs() -> Response:
    """The document, rendered for a person by a self-contained page."""
    page, policy = _docs_page()
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": policy})


@functools.cache
def _docs_page() -> tuple[str, str]:
    """The page, and a policy that lets it run its own inline code and load only the document."""
    page = resources.files("app").joinpath("static/docs.html").read_text(encoding="utf-8")
    allowed = {"script": "", "style": ""}
    for kind, code in _INLINE_BLOCK.findall(page):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        allowed[kind] += f" 'sha256-{digest}'"
    policy = (
        f"default-src 'none'; connect-src 'self'; script-src{allowed['script']}; "
        f"style-src{allowed['style']}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy


def spec_for(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use and kept for the app's life."""
    built: dict[str, Any] | None = app.extensions.get("openapi")
    if built is None:
        built = app.extensions["openapi"] = build(app)
    return built


def build(app: Flask) -> dict[str, Any]:
    """Describe every route of the app's url_map; a route not in OPERATIONS is flagged."""
    spec = APISpec(
        title="OTP verification service",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": _overview()},
        tags=TAGS,
    )
    spec.components.header("RetryAfter", RETRY_AFTER)
    spec.components.header("IdempotentReplayed", IDEMPOTENT_REPLAYED)
    spec.components.security_scheme("apiKey", API_KEY_SCHEME)
    spec.components.security_scheme("twilioBasic", twilio_openapi.SECURITY_SCHEME)
    for name, schema in twilio_openapi.SCHEMAS.items():
        spec.components.schema(name, schema)
    for path, methods in _route_methods(app).items():
        operations = {
            method: _operation(path, method, app.view_functions[endpoint])
            for method, endpoint in methods.items()
        }
        spec.path(path=path, operations=operations, parameters=_path_parameters(path))
    return spec.to_dict()


def _route_methods(app: Flask) -> dict[str, dict[str, str]]:
    """OpenAPI path -> method -> endpoint, for every rule but static files."""
    paths: dict[str, dict[str, str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.rpartition(".")[2] == "static":
            continue
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS):
            paths.setdefault(path, {})[method.lower()] = rule.endpoint
    return paths


def _operation(path: str, method: str, view: Callable[..., Any]) -> dict[str, Any]:
    described = OPERATIONS.get((path, method))
    if described is not None:
        return copy.deepcopy(described)  # apispec resolves schemas in place
    summary = (view.__doc__ or path).strip().splitlines()[0]
    return {
        "summary": summary,
        "x-undescribed": True,
        "responses": {"default": {"description": "Not described in this document yet."}},
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for name in _PATH_PARAMETER.findall(path):
        parameter = {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        if name in PATH_PARAMETERS:
            description, example = PATH_PARAMETERS[name]
            parameter |= {"description": description, "example": example}
        parameters.append(parameter)
    return parameters


def _overview() -> str:
    by_status = sorted(STATUS.items(), key=lambda item: item[1])
    codes = "\n".join(f"- `{code}`: {status}" for code, status in by_status)
    return (
        "Issues one-time codes, delivers them through SMS, voice, WhatsApp or e-mail providers "
        "chosen per destination country, and verifies them. An approved verification returns an "
        "EdDSA-signed JWT whose keys are published at `/.well-known/jwks.json`.\n\n"
        "Two kinds of caller. **Public** callers (browsers, mobile apps) send no credentials: "
        "they ask for a code, check it by `id`, and look at or resend a verification whose id "
        "they hold. **Trusted** callers (the tenant's backends) send `Authorization: Bearer "
        "<key>` with a key of `OTP_API_KEYS`: they may also check by destination, see the "
        "delivery attempts and the route, and cancel, and no per-IP limit applies to them. "
        "Each operation's `x-caller` says which it is for; a wrong key is always `unauthorized`."
        "\n\nAn id is a capability: every caller asking for a code gets an id of its own, and "
        "no answer gives out the id of a verification the caller did not start. "
        "`POST /otp/request` and `POST /otp/verify` take an `Idempotency-Key` header: the same "
        "key with the same body replays the first answer (`Idempotent-Replayed: true`) and "
        "sends or counts nothing again.\n\n"
        'Every error answers `{"error": {"code", "message", "details"}}`; clients branch on '
        "`code`, never on `message`. `rate_limited` and `unavailable` carry a `Retry-After` "
        "header. Any path answers `method_not_allowed` (405) to a method it does not list, and "
        "`internal_error` (500) on an unexpected fault. The Twilio Verify compatible API "
        "under `/v2` (tag `twilio`) answers in Twilio's shapes instead. The codes and their "
        "statuses:\n\n" + codes
    )


def _named(examples: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {"value": value} for name, value in examples.items()}


def _json(description: str, schema: type[Schema]) -> dict[str, Any]:
    """A JSON answer of `schema`, with its examples from responses.EXAMPLES."""
    content = {"schema": schema, "examples": _named(r.EXAMPLES[schema])}
    return {"description": description, "content": {"application/json": content}}


def _text(description: str, media_type: str, example: str) -> dict[str, Any]:
    content = {"schema": {"type": "string"}, "example": example}
    return {"description": description, "content": {media_type: content}}


def _errors(*names: str) -> dict[str, Any]:
    """Error answers by status, one example per name of responses.ERROR_EXAMPLES, plus 500."""
    grouped: dict[int, dict[str, Any]] = {}
    for name in (*names, "internal_error"):
        status, body = r.ERROR_EXAMPLES[name]
        summary = name.replace(".", ": ")
        grouped.setdefault(status, {})[name] = {"summary": summary, "value": body}
    return {str(status): _error_answer(grouped[status]) for status in sorted(grouped)}


def _error_answer(examples: dict[str, Any]) -> dict[str, Any]:
    codes = list(dict.fromkeys(e["value"]["error"]["code"] for e in examples.values()))
    content = {"schema": r.ErrorSchema, "examples": examples}
    answer = {"description": ", ".join(codes), "content": {"application/json": content}}
    if {"rate_limited", "unavailable", "factor_locked", "fraud_blocked"} & set(codes):
        answer["headers"] = {"Retry-After": "RetryAfter"}
    return answer


def _public(operation: dict[str, Any], trusted_extras: str = "") -> dict[str, Any]:
    """Open to anyone; an API key, if sent to an /otp endpoint, must be right (and may
    unlock `trusted_extras`)."""
    more = f" With an API key: {trusted_extras}" if trusted_extras else ""
    words = "Public: no API key needed." + more
    operation["description"] += "\n\n" + words
    return {**operation, "security": [{}, {"apiKey": []}], "x-caller": "public"}


def _trusted(operation: dict[str, Any]) -> dict[str, Any]:
    operation["description"] += "\n\nTrusted: needs an API key (`Authorization: Bearer <key>`)."
    return {**operation, "security": [{"apiKey": []}], "x-caller": "trusted"}


def _limited(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer of a per-IP limited endpoint: the limit's headers, when they are turned on."""
    return {**answer, "headers": {**answer.get("headers", {}), **RATE_LIMIT_HEADERS}}


def _replayable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer that may be the stored first answer to an Idempotency-Key."""
    headers = {"Idempotent-Replayed": "IdempotentReplayed"}
    return _limited({**answer, "headers": headers})


def _body(schema: type[Schema], description: str, examples: dict[str, Any]) -> dict[str, Any]:
    content = {"schema": schema, "examples": _named(examples)}
    return {"required": True, "description": description, "content": {"application/json": content}}


RETRY_AFTER = {
    "description": "Seconds to wait before trying again; sent with rate_limited, "
    "fraud_blocked and unavailable.",
    "schema": {"type": "integer", "minimum": 1},
    "example": 30,
}

RATE_LIMIT_HEADERS = {
    name: {
        "description": f"{words} Sent only with RATELIMIT_HEADERS_ENABLED=true.",
        "schema": {"type": "integer", "minimum": 0},
    }
    for name, words in [
        ("RateLimit-Limit", "Requests this client may make in the current window."),
        ("RateLimit-Remaining", "Requests left in the window."),
        ("RateLimit-Reset", "Seconds until the window resets."),
        ("X-RateLimit-Reset", "The Unix time the window resets."),
    ]
}

IDEMPOTENT_REPLAYED = {
    "description": "`true` when this answer is the stored first answer to the same "
    "Idempotency-Key and body: nothing was sent or counted again.",
    "schema": {"type": "string", "enum": ["true"]},
    "example": "true",
}

API_KEY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A trusted caller's key, one of OTP_API_KEYS. Never put one in a browser "
    "or an app: public calls need no key.",
}

IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "1 to 255 visible ASCII characters, new for every new call (a random "
    "UUID). The same key and body within the verification's lifetime replay the first "
    "answer; the same key with another body is `idempotency_mismatch`.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "example": "5f0c6a8e-3b7d-4d5e-9a41-2c8f1e7b6d90",
}

TAGS = [
    {"name": "verification", "description": "Request, check, inspect and cancel one-time codes."},
    {"name": "callbacks", "description": "Delivery receipts posted by the providers."},
    {"name": "operations", "description": "Liveness, readiness, metrics and token keys."},
    {"name": "documentation", "description": "This document and its rendering."},
    {"name": "development", "description": "Served only with OTP_ENV=development."},
    twilio_openapi.TAG,
    {"name": "totp", "description": "Authenticator-app factors, served with OTP_TOTP on."},
    {"name": "guard", "description": "The fraud guard's blocks, for operators."},
]

PATH_PARAMETERS = {
    "verification_id": ("The `id` answered by POST /otp/request.", r.SAMPLE_ID),
    "provider": ("A provider name from the routing file.", "twilio"),
    **twilio_openapi.PATH_PARAMETERS,
    "factor_id": ("The `id` answered by POST /totp/factors.", fs.SAMPLE_FACTOR_ID),
    "entity": ("The tenant's opaque user id.", fs.SAMPLE_ENTITY),
    "scope": ("What the block holds back: `prefix`, `country` or `ip`.", "prefix"),
    "value": (
        "The prefix (+ and the digits the guard keeps), the ISO country, or the address "
        "(an IPv6 block: its /64, e.g. `2001:db8:1:2::/64`).",
        "+4915212345",
    ),
}

REQUEST_DESCRIPTION = (
    "`phone` in E.164, or national with the ISO `country`; `channel` is `sms` (default), "
    "`voice`, `whatsapp` or `email` (which needs `email` instead of `phone`); `purpose` "
    "(default `login`) separates verifications of one destination; `locale` picks the message "
    "template; `app_hash` (Android's SMS Retriever hash of the asking app) goes on its own "
    "line after the SMS text, on every send of the verification; `captcha_token` carries the "
    "bot check's token when one is configured (docs/fraud-guard.md). Unknown fields are "
    "refused."
)

VERIFY_DESCRIPTION = (
    "The `code` with either the verification `id`, or the `phone` (or `email`) and `purpose` "
    "it was requested for. Unknown fields are refused."
)

REQUEST_EXAMPLES = {
    "sms": {"phone": "+8613800138000"},
    "national": {"phone": "13800138000", "country": "CN", "purpose": "signup", "locale": "zh-CN"},
    "voice": {"phone": "+442079460018", "channel": "voice"},
    "android": {"phone": "+4915123456789", "app_hash": "FA+9qCX9VSu"},
    "email": {"channel": "email", "email": "ada@example.com", "purpose": "reset_password"},
}

VERIFY_EXAMPLES = {
    "by_id": {"id": r.SAMPLE_ID, "code": "779283"},
    "by_phone": {"phone": "+8613800138000", "purpose": "login", "code": "779283"},
    "by_email": {"email": "ada@example.com", "purpose": "reset_password", "code": "779283"},
}

RECEIPT_FORM = {
    "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "MessageStatus": "delivered",
    "To": "+14155550123",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
}
RECEIPT_JSON = [
    {
        "user_receive_time": "2025-01-01 12:00:05",
        "nationcode": "86",
        "mobile": "13800138000",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "user received",
        "sid": "2019:538884*********",
    }
]

# A provider pushes its reports again unless the answer has the shape its documentation asks.
RECEIPTS_ANSWER = {
    "description": "The push was taken; the body is the one its provider asks for: "
    '`{"accepted": n}` (new receipts) for `http` providers, `{"code": 0, "msg": ...}` for '
    'Alibaba Cloud SMS and Chat App Message Service, `{"result": 0, "errmsg": "OK"}` for '
    "Tencent Cloud SMS, an empty text body for Huawei.",
    "content": {
        "application/json": {
            "schema": {"type": "object"},
            "examples": {
                "http": {"value": {"accepted": 2}},
                "alibaba": {"value": {"code": 0, "msg": "接收成功"}},
                "tencent": {"value": {"result": 0, "errmsg": "OK"}},
            },
        },
        "text/plain": {"schema": {"type": "string", "maxLength": 0}, "example": ""},
    },
}

METRICS_EXAMPLE = (
    "# HELP otp_verifications_created_total Verifications created.\n"
    "# TYPE otp_verifications_created_total counter\n"
    'otp_verifications_created_total{channel="sms"} 42.0\n'
)

RECEIPTS_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "examples": {"twilio": {"value": RECEIPT_FORM}},
        },
        "application/json": {
            "schema": {"type": ["object", "array"]},
            "examples": {"tencent": {"value": RECEIPT_JSON}},
        },
    },
}

DOCUMENT_ANSWER = {
    "description": "The OpenAPI 3.1 document.",
    "content": {
        "application/json": {
            "schema": {"type": "object"},
            "example": {"openapi": "3.1.0", "info": {"title": "OTP verification service"}},
        }
    },
}

OUTBOX_TO = {
    "in": "query",
    "name": "to",
    "description": "Only messages to this E.164 number or e-mail address.",
    "schema": {"type": "string"},
    "example": "+8613800138000",
}

_BODY_ERRORS = ("validation_error", "payload_too_large", "unsupported_media_type")

# GET /otp/{id}: the public view, or the full one for a trusted caller.
STATUS_ANSWER = {
    "description": "The verification: the public view, or the full one for a trusted caller.",
    "content": {
        "application/json": {
            "schema": {"anyOf": [r.VerificationPublicSchema, r.VerificationStatusSchema]},
            "examples": {
                **_named(r.EXAMPLES[r.VerificationPublicSchema]),
                "trusted": {"value": r.EXAMPLES[r.VerificationStatusSchema]["pending"]},
            },
        }
    },
}
_SEND_LIMITS = ("rate_limited.resend_cooldown", "rate_limited.max_sends")
_GUARD_REFUSALS = ("fraud_blocked.prefix", "fraud_blocked.country", "fraud_blocked.ip")


def _op(
    tag: str, summary: str, description: str, answers: dict[str, Any], **more: Any
) -> dict[str, Any]:
    """One operation: its tag, words, answers and any more fields (requestBody, parameters)."""
    words = {"tags": [tag], "summary": summary, "description": description}
    return {**words, **more, "responses": answers}


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/otp/request", "post"): _public(
        _op(
            "verification",
            "Send a one-time code",
            "Creates a verification and sends its code through the route planned for the "
            "destination's country. A second request for the same destination and purpose "
            "while one is pending sends the same code again under a new `id` of the caller's "
            "own, once `resend_after` seconds have passed: whoever asks gets a handle, and "
            "nobody learns the id another caller holds.",
            {
                "202": _replayable(_json("The code is on its way.", r.CodeRequestedSchema)),
                **_errors(
                    *_BODY_ERRORS,
                    "invalid_phone",
                    "unsupported_channel",
                    "country_not_allowed",
                    "no_route",
                    "delivery_failed.permanent",
                    "rate_limited.client_ip",
                    *_SEND_LIMITS,
                    "rate_limited.destination_quota",
                    "rate_limited.provider_recipient_limit",
                    *_GUARD_REFUSALS,
                    "challenge_required",
                    "delivery_failed",
                    "unauthorized",
                    "idempotency_mismatch",
                    "idempotency_in_progress",
                    "unavailable",
                ),
            },
            requestBody=_body(CodeRequestSchema, REQUEST_DESCRIPTION, REQUEST_EXAMPLES),
            parameters=[IDEMPOTENCY_KEY],
        ),
        "no per-IP limit applies.",
    ),
    ("/otp/verify", "post"): _public(
        _op(
            "verification",
            "Check a code",
            "One atomic check: of any number of concurrent correct submissions exactly one is "
            "approved. A wrong code says how many attempts are left for this id; when none "
            "are, the id is burned (`too_many_attempts`). Every id has its own tries, so a "
            "stranger cannot spend another's.",
            {
                "200": _replayable(_json("Approved, with a signed token.", r.ApprovedSchema)),
                **_errors(
                    *_BODY_ERRORS,
                    "invalid_code",
                    "invalid_phone",
                    "unsupported_channel",
                    "not_found",
                    "too_many_attempts",
                    "rate_limited.client_ip",
                    "unauthorized.needs_key",
                    "idempotency_mismatch",
                    "idempotency_in_progress",
                    "unavailable",
                ),
            },
            requestBody=_body(VerifySchema, VERIFY_DESCRIPTION, VERIFY_EXAMPLES),
            parameters=[IDEMPOTENCY_KEY],
        ),
        "check by `phone` (or `email`) and `purpose` instead of `id`; no per-IP limit.",
    ),
    ("/otp/{verification_id}", "get"): _public(
        _op(
            "verification",
            "Look up a verification",
            "Its status for this id's holder, channel, masked destination, expiry and resend "
            "countdown.",
            {"200": STATUS_ANSWER, **_errors("not_found", "unauthorized", "unavailable")},
        ),
        "also the purpose, country, every delivery attempt with its cost and receipt, and "
        "the route a send would take now.",
    ),
    ("/otp/{verification_id}/resend", "post"): _public(
        _op(
            "verification",
            "Send the code again",
            "For the holder of the id: the same code, through the route that avoids the "
            "provider that delivered last, once `resend_after` seconds have passed. No body.",
            {
                "202": _limited(_json("The code is on its way again.", r.CodeRequestedSchema)),
                **_errors(
                    "not_found",
                    "no_route",
                    "rate_limited.client_ip",
                    *_SEND_LIMITS,
                    "rate_limited.destination_quota",
                    "rate_limited.provider_recipient_limit",
                    *_GUARD_REFUSALS,
                    "delivery_failed",
                    "unauthorized",
                    "unavailable",
                ),
            },
        ),
    ),
    ("/otp/guard/blocks/{scope}/{value}", "delete"): _trusted(
        _op(
            "guard",
            "Lift a fraud-guard block",
            "Ends a block of a prefix, a country or a client address before its time, and "
            "forgets its history, so that a next block starts again at the first step. "
            "`flask otp guard` lists the blocks in force. No request body.",
            {
                "200": _json("Lifted: the block as it stood.", r.GuardBlockSchema),
                **_errors(
                    "validation_error.block",
                    "not_found.block",
                    "unauthorized.needs_key",
                    "unavailable",
                ),
            },
        )
    ),
    ("/otp/{verification_id}/cancel", "post"): _trusted(
        _op(
            "verification",
            "Cancel a pending verification",
            "Its code can no longer be approved, by any of its ids. No request body.",
            {
                "200": _json("Cancelled.", r.CancelledSchema),
                **_errors("not_found", "unauthorized.needs_key", "unavailable"),
            },
        )
    ),
    ("/otp/callbacks/{provider}", "post"): _public(
        _op(
            "callbacks",
            "Take a provider's delivery receipts",
            "Called by the providers, not by clients. The body is the provider's own format (form "
            "or JSON) and is signature-checked; receipts feed provider health and the "
            "verifications' delivery attempts.",
            {
                "200": RECEIPTS_ANSWER,
                "204": {
                    "description": "Twilio's status callbacks: no content (Twilio reads none)."
                },
                **_errors("forbidden", "not_found", "payload_too_large", "unavailable"),
            },
            requestBody=RECEIPTS_BODY,
        )
    ),
    ("/healthz", "get"): _public(
        _op(
            "operations",
            "Liveness",
            "The process answers; says nothing of its dependencies.",
            {"200": _json("Alive.", r.HealthSchema), **_errors()},
        )
    ),
    ("/readyz", "get"): _public(
        _op(
            "operations",
            "Readiness",
            "Redis answers and the routing file is loaded.",
            {
                "200": _json("Ready to serve.", r.ReadinessSchema),
                **_errors("unavailable.readiness"),
            },
        )
    ),
    ("/metrics", "get"): _trusted(
        _op(
            "operations",
            "Prometheus metrics",
            "Prometheus text exposition format, summed over every worker process.",
            {
                "200": _text("The metrics.", "text/plain; version=0.0.4", METRICS_EXAMPLE),
                **_errors(),
            },
        )
    ),
    ("/.well-known/jwks.json", "get"): _public(
        _op(
            "operations",
            "Token keys",
            "The public keys that verify approval tokens (EdDSA, Ed25519).",
            {"200": _json("The key set.", r.JwksSchema), **_errors()},
        )
    ),
    ("/openapi.json", "get"): _public(
        _op(
            "documentation",
            "This document",
            "The OpenAPI 3.1 document of every route this instance serves.",
            {"200": DOCUMENT_ANSWER, **_errors()},
        )
    ),
    ("/docs", "get"): _public(
        _op(
            "documentation",
            "This document, for a person",
            "A self-contained page that renders /openapi.json; it loads nothing else.",
            {
                "200": _text("The page.", "text/html", "<!doctype html><title>API</title>"),
                **_errors(),
            },
        )
    ),
    ("/dev/outbox", "get"): _public(
        _op(
            "development",
            "Messages sent by the console provider",
            "The last messages, newest first, codes in clear. Development mode only.",
            {"200": _json("The messages.", r.OutboxSchema), **_errors("unavailable")},
            parameters=[OUTBOX_TO],
        )
    ),
    ("/demo", "get"): _public(
        _op(
            "development",
            "Try the service in a browser",
            "A page that requests and verifies a code. Development mode only.",
            {
                "200": _text("The page.", "text/html", "<!doctype html><title>demo</title>"),
                **_errors(),
            },
        )
    ),
}
OPERATIONS |= twilio_openapi.OPERATIONS


# Authenticator-app (TOTP) factors: for trusted callers, and in development mode for the demo
# page, which calls the same views server-side because it holds no API key.
_CHECK_ERRORS = (
    *_BODY_ERRORS,
    "invalid_code",
    "code_replayed",
    "factor_locked",
    "factor_unreadable",
    "not_found.factor",
)
_FACTOR_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/totp/factors", "post"): _op(
        "totp",
        "Enrol an authenticator app",
        "Creates an unverified factor for `entity` (the tenant's opaque user id: no phone "
        "number, e-mail or name) and answers its secret, `otpauth://` URI and QR code (SVG). "
        "This is the only answer that ever holds the secret: show the QR code to the user once. "
        "The factor is gone unless confirmed with a first code within `expires_in` seconds. "
        "`label` (default: the entity) and `issuer` (default: OTP_TOTP_ISSUER) are what the app "
        "shows; neither is stored.",
        {
            "201": _json("The new factor, with its secret.", fs.EnrolledSchema),
            **_errors(*_BODY_ERRORS, "factor_limit", "unauthorized.needs_key", "unavailable"),
        },
        requestBody=_body(fs.EnrolSchema, "The entity, and what the app shows.", fs.ENROL_EXAMPLES),
    ),
    ("/totp/factors/{factor_id}/confirm", "post"): _op(
        "totp",
        "Confirm a factor with its first code",
        "A correct code verifies the factor, which then lives until deleted. Codes of the time "
        "step before and after the current one are accepted by default (OTP_TOTP_SKEW); a code "
        "already accepted, or an earlier one, is `code_replayed`. Wrong codes lock the factor "
        "for a cool-down (`factor_locked`, with Retry-After).",
        {
            "200": _json("The factor, verified.", fs.FactorSchema),
            **_errors(*_CHECK_ERRORS, "unauthorized.needs_key", "unavailable"),
        },
        requestBody=_body(fs.ConfirmSchema, "The code the app shows.", fs.CONFIRM_EXAMPLES),
    ),
    ("/totp/verify", "post"): _op(
        "totp",
        "Check a code",
        "For a verified factor by `factor_id`, or for the only verified factor of `entity`. "
        "One atomic check: a code is accepted once, and of any number of concurrent "
        "submissions of one code exactly one succeeds. Approval answers the same kind of "
        "signed token as a verification, with `sub` the entity and `factor` `totp`.",
        {
            "200": _json("Approved, with a signed token.", fs.FactorApprovedSchema),
            **_errors(
                *_CHECK_ERRORS,
                "validation_error.entity",
                "not_found.entity",
                "factor_unverified",
                "unauthorized.needs_key",
                "unavailable",
            ),
        },
        requestBody=_body(fs.FactorVerifySchema, "The code and its factor.", fs.VERIFY_EXAMPLES),
    ),
    ("/totp/entities/{entity}/factors", "get"): _op(
        "totp",
        "List an entity's factors",
        "Id, status, creation and last use of each factor, oldest first; never a secret.",
        {
            "200": _json("The factors.", fs.FactorListSchema),
            **_errors("validation_error", "unauthorized.needs_key", "unavailable"),
        },
    ),
    ("/totp/factors/{factor_id}", "delete"): _op(
        "totp",
        "Delete a factor",
        "Its codes are refused from now on. No request body.",
        {
            "200": _json("Deleted.", fs.FactorDeletedSchema),
            **_errors("not_found.factor", "unauthorized.needs_key", "unavailable"),
        },
    ),
}
_DEMO_PROXIED = [
    ("/totp/factors", "post"),
    ("/totp/factors/{factor_id}/confirm", "post"),
    ("/totp/verify", "post"),
]


def _demo(operation: dict[str, Any]) -> dict[str, Any]:
    """The demo page's stand-in for a trusted factor endpoint: the same view, no API key."""
    made = copy.deepcopy(operation)
    made["responses"].pop("401")
    made["summary"] = "Demo: " + made["summary"][0].lower() + made["summary"][1:]
    made["description"] = "Development mode only, without an API key. " + made["description"]
    return {**made, "tags": ["development"]}


OPERATIONS |= {key: _trusted(copy.deepcopy(op)) for key, op in _FACTOR_OPERATIONS.items()}
OPERATIONS |= {
    ("/demo" + path, method): _public(_demo(_FACTOR_OPERATIONS[(path, method)]))
    for path, method in _DEMO_PROXIED
}
