"""Response bodies of the HTTP contract, as marshmallow schemas for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.errors import STATUS
from app.guard.config import MODES, SCOPES
from app.verification.store import STATUS_NAMES

from .factor_schemas import EXAMPLES as FACTOR_EXAMPLES
from .factor_schemas import SAMPLE_FACTOR_ID
from .schemas import CHANNELS

# "sending": a queued send in flight; "unconfirmed": its worker died during the call.
ATTEMPT_OUTCOMES = ("sent", "failed", "skipped", "error", "sending", "unconfirmed")


def _text(description: str, **options: Any) -> fields.String:
    return fields.String(required=True, metadata={"description": description}, **options)


def _one_of(description: str, choices: tuple[str, ...] | list[str]) -> fields.String:
    return _text(description, validate=validate.OneOf(choices))


def _id() -> fields.String:
    return _text(
        "The caller's own id (handle) of the verification: a capability, never given to "
        "anyone else. It carries the Redis Cluster hash tag of the verification's keys."
    )


def _masked() -> fields.String:
    return _text("The destination, masked: `+86138****8000` or `a***@example.com`.")


class RouteSchema(Schema):
    provider = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The provider that accepted the message; null for a test number."},
    )
    own_numbers = fields.Boolean(
        required=True,
        metadata={"description": "Sent through the tenant's own numbers (may cost more)."},
    )
    channel = fields.String(
        validate=validate.OneOf(CHANNELS),
        metadata={"description": "The channel used, after any fallback (WhatsApp -> SMS)."},
    )
    attempts = fields.Integer(metadata={"description": "Send attempts this request made."})
    test_number = fields.Boolean(
        metadata={"description": "Present and true for a configured test number: nothing sent."}
    )


class CodeRequestedSchema(Schema):
    id = _id()
    status = _one_of("Always `pending` here.", ["pending"])
    channel = _one_of("The channel asked for.", CHANNELS)
    to = _masked()
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the code expires."}
    )
    resend_after = fields.Integer(
        required=True, metadata={"description": "Seconds before a resend is allowed."}
    )
    route = fields.Nested(RouteSchema, required=True)
    locale = _text(
        "The locale of the message text: the requested one, or the nearest one a text exists "
        "in (`pt-BR` -> `pt`, `zh-CN` -> `zh-Hans`), else `en`."
    )


class ApprovedSchema(Schema):
    id = _id()
    status = _one_of("Always `approved` here.", ["approved"])
    token = _text("An EdDSA-signed JWT (keys at /.well-known/jwks.json) for the caller's backend.")


class AttemptSchema(Schema):
    provider = _text("The provider tried.")
    channel = _one_of("The channel tried.", CHANNELS)
    own_numbers = fields.Boolean(required=True)
    started = fields.Float(required=True, metadata={"description": "Unix time, seconds."})
    finished = fields.Float(required=True, metadata={"description": "Unix time, seconds."})
    outcome = _one_of("What the provider said.", ATTEMPT_OUTCOMES)
    message_id = _text("The provider's message id; empty when nothing was sent.")
    error_class = _text(
        "`transient`, `route`, `permanent`, `unreachable`, `recipient_throttled` (the provider's "
        "answer), `probe_in_flight` or `quota_used_up` (skipped), or `adapter_error`; empty on "
        "success."
    )
    error_code = _text("The provider's own error code; empty on success.")
    cost = fields.Float(required=True, allow_none=True, metadata={"description": "When known."})
    fallback = fields.String(
        allow_none=True,
        metadata={
            "description": "A channel the provider itself falls back to, armed with the "
            "send (Chat App Message Service: `sms`); null when none."
        },
    )


class PlanStepSchema(Schema):
    provider = _text("The provider of this step.")
    channel = _one_of("The channel of this step.", CHANNELS)
    own_numbers = fields.Boolean(required=True)
    sender = fields.String(
        required=True, allow_none=True, metadata={"description": "The own number sent from."}
    )
    cost = fields.Float(required=True, allow_none=True, metadata={"description": "When known."})
    reason = _text("Why this step is in the plan, and in this place.")


class PlanSkipSchema(Schema):
    provider = _text("The provider left out.")
    channel = _one_of("The channel.", CHANNELS)
    reason = _text("Why it was left out: circuit open, quota used up...")


class RoutePlanSchema(Schema):
    country = fields.String(metadata={"description": "The destination's ISO country."})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    scheduled = fields.Boolean(metadata={"description": "The country uses scheduling."})
    steps = fields.List(fields.Nested(PlanStepSchema))
    skipped = fields.List(fields.Nested(PlanSkipSchema))
    error = fields.String(
        validate=validate.OneOf(list(STATUS)),
        metadata={"description": "Set instead of the steps when no send could be planned now."},
    )
    reason = fields.String(metadata={"description": "With `error`: why there is no route."})


class VerificationPublicSchema(Schema):
    id = _id()
    status = _one_of(
        "Where the verification stands for this id's holder.", list(STATUS_NAMES.values())
    )
    channel = _one_of("The channel of the latest send.", CHANNELS)
    to = _masked()
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the code expires."}
    )
    resend_after = fields.Integer(
        required=True, metadata={"description": "Seconds before a resend is allowed; 0: now."}
    )


class VerificationStatusSchema(VerificationPublicSchema):
    purpose = _text("The purpose given when the code was requested.")
    country = fields.String(
        required=True, allow_none=True, metadata={"description": "ISO country of the destination."}
    )
    expires_at = fields.Integer(required=True, metadata={"description": "Unix time, seconds."})
    sends = fields.Integer(required=True, metadata={"description": "Codes sent, resends included."})
    attempts = fields.List(fields.Nested(AttemptSchema), required=True)
    route = fields.Nested(
        RoutePlanSchema,
        metadata={"description": "The plan a send of this verification would follow now."},
    )


class CancelledSchema(Schema):
    id = _id()
    status = _one_of("Always `cancelled` here.", ["cancelled"])


class GuardBlockSchema(Schema):
    scope = _one_of("What the block holds back.", list(SCOPES))
    value = _text(
        "The prefix (the number without its last digits), the country, or the client "
        "address (an IPv6 address's /64)."
    )
    mode = _one_of("`monitor` blocks were only recorded: nothing was refused.", MODES)
    step = fields.Integer(
        required=True, metadata={"description": "1 for a first block, more for a repeat."}
    )
    until = fields.Integer(required=True, metadata={"description": "When it would have ended."})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds it had left."})
    cause = _text("What placed it: the count and the limit it went over.")
    lifted = fields.Boolean(required=True)


class ErrorBodySchema(Schema):
    code = _one_of("A stable, machine-readable error code.", list(STATUS))
    message = _text("Human text; do not parse it.")
    details = fields.Dict(
        required=True, metadata={"description": "Facts about this error; may be empty."}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    status = _one_of("The process is alive.", ["ok"])


class ReadinessSchema(Schema):
    status = _one_of("Redis answers and the routing file is loaded.", ["ready"])
    routing = _text("Where the routing configuration was loaded from.")


class JwkSchema(Schema):
    kty = _one_of("Key type.", ["OKP"])
    crv = _one_of("Curve.", ["Ed25519"])
    x = _text("The public key, base64url.")
    use = _one_of("Key use.", ["sig"])
    kid = _text("Key id; matches the `kid` header of a token.")
    alg = _one_of("Signature algorithm.", ["EdDSA"])


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


class OutboxMessageSchema(Schema):
    id = _text("The console provider's message id.")
    to = _text("The destination, unmasked: development mode only.")
    channel = _one_of("The channel.", CHANNELS)
    text = _text("The message as sent, code included.")
    sent_at = fields.Float(required=True, metadata={"description": "Unix time, seconds."})
    verification_id = _text("The verification the message belongs to.")


class OutboxSchema(Schema):
    messages = fields.List(fields.Nested(OutboxMessageSchema), required=True)


# Example bodies, shown in the document and checked against their schemas by the tests.
SAMPLE_ID = "buki7vh6dkikec5xd4qf26qozggpzd"
_SAMPLE_JWT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Imo3enhDSllWWEFBOGlPTnQiLCJ0eXAiOiJKV1QifQ"
    ".eyJpc3MiOiJvdHAtc2VydmljZSIsInN1YiI6Iis4NjEzODAwMTM4MDAwIiwicHVycG9zZSI6ImxvZ2luIn0"
    ".91FFM2QJouVcppuOfcZ7agwcNB1-73zIfT9aJ4tV7rn04xQHFg6O8l4Apy2Um9fJ2YRTCeG28atnRRCn5RruBQ"
)
_PENDING = {"id": SAMPLE_ID, "status": "pending", "channel": "sms", "to": "+86138****8000"}
_ATTEMPT = {
    "provider": "aliyun",
    "channel": "sms",
    "own_numbers": False,
    "started": 1795304092.533,
    "finished": 1795304092.871,
    "outcome": "sent",
    "message_id": "900619746936498440^0",
    "error_class": "",
    "error_code": "",
    "cost": None,
}

EXAMPLES: dict[type[Schema], dict[str, Any]] = {
    CodeRequestedSchema: {
        "sent": {
            **_PENDING,
            "expires_in": 300,
            "resend_after": 30,
            "route": {"provider": "aliyun", "own_numbers": False, "channel": "sms", "attempts": 1},
            "locale": "zh-Hans",
        },
        "own_numbers": {
            **_PENDING,
            "expires_in": 300,
            "resend_after": 30,
            "route": {"provider": "twilio", "own_numbers": True, "channel": "sms", "attempts": 2},
            "locale": "en",
        },
        "test_number": {
            **_PENDING,
            "expires_in": 300,
            "resend_after": 30,
            "route": {"provider": None, "own_numbers": False, "test_number": True},
            "locale": "en",
        },
    },
    ApprovedSchema: {"approved": {"id": SAMPLE_ID, "status": "approved", "token": _SAMPLE_JWT}},
    VerificationStatusSchema: {
        "pending": {
            **_PENDING,
            "expires_in": 240,
            "resend_after": 0,
            "purpose": "login",
            "country": "CN",
            "expires_at": 1795304392,
            "sends": 1,
            "attempts": [
                {
                    **_ATTEMPT,
                    "provider": "tencent",
                    "outcome": "failed",
                    "message_id": "",
                    "finished": 1795304092.712,
                    "error_class": "transient",
                    "error_code": "InternalError.Timeout",
                },
                _ATTEMPT,
            ],
            "route": {
                "country": "CN",
                "channel": "sms",
                "scheduled": True,
                "steps": [
                    {
                        "provider": "aliyun",
                        "channel": "sms",
                        "own_numbers": False,
                        "sender": None,
                        "cost": 0.045,
                        "reason": "scheduling resource, priority 1, weight 70",
                    }
                ],
                "skipped": [{"provider": "tencent", "channel": "sms", "reason": "circuit open"}],
            },
        },
    },
    VerificationPublicSchema: {
        "pending": {**_PENDING, "expires_in": 240, "resend_after": 0},
        "approved": {**_PENDING, "status": "approved", "expires_in": 212, "resend_after": 0},
    },
    CancelledSchema: {"cancelled": {"id": SAMPLE_ID, "status": "cancelled"}},
    HealthSchema: {"ok": {"status": "ok"}},
    ReadinessSchema: {"ready": {"status": "ready", "routing": "/etc/otp/routing.yaml"}},
    JwksSchema: {
        "keys": {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": "xjXVIHt4HwCdLl4OAbA1VhgRBSI8u9_-A0neL7NYeK0",
                    "use": "sig",
                    "kid": "j7zxCJYVXAA8iONt",
                    "alg": "EdDSA",
                }
            ]
        }
    },
    OutboxSchema: {
        "messages": {
            "messages": [
                {
                    "id": "console-4add2abc6cb0",
                    "to": "+8613800138000",
                    "channel": "sms",
                    "text": "779283 is your otp-service login code. It expires in 5 minutes.",
                    "sent_at": 1795304092.533,
                    "verification_id": SAMPLE_ID,
                }
            ]
        }
    },
    GuardBlockSchema: {
        "lifted": {
            "scope": "prefix",
            "value": "+4915212345",
            "mode": "enforce",
            "step": 1,
            "until": 1795307692,
            "expires_in": 3312,
            "cause": "21 unverified sends in the sliding hour (limit 20)",
            "lifted": True,
        }
    },
    **FACTOR_EXAMPLES,
}


def _error(
    code: str, message: str, details: dict[str, Any] | None = None, status: int | None = None
) -> tuple[int, dict[str, Any]]:
    body = {"code": code, "message": message, "details": details or {}}
    return status or STATUS[code], {"error": body}


# Example error answers by name: a status and an envelope. A name is the error code, or the
# code and a variant when one code answers for several causes.
ERROR_EXAMPLES: dict[str, tuple[int, dict[str, Any]]] = {
    "validation_error": _error(
        "validation_error",
        "The request body is not valid.",
        {"fields": {"phone": ["Missing data for required field."]}},
    ),
    "invalid_phone": _error("invalid_phone", "The phone number is not a valid number."),
    "unsupported_channel": _error(
        "unsupported_channel",
        "A fixed-line number cannot receive sms messages; use voice.",
        {"channel": "sms", "type": "fixed_line"},
    ),
    "invalid_code": _error("invalid_code", "The code is not correct.", {"attempts_left": 4}),
    "not_found": _error("not_found", "No pending verification matches."),
    "method_not_allowed": _error(
        "method_not_allowed", "The method is not allowed for the requested URL."
    ),
    "payload_too_large": _error(
        "payload_too_large", "The data value transmitted exceeds the capacity limit."
    ),
    "unsupported_media_type": _error(
        "unsupported_media_type", "Send the body as application/json."
    ),
    "country_not_allowed": _error(
        "country_not_allowed", "Sending to KP is not allowed.", {"country": "KP"}
    ),
    "forbidden": _error(
        "forbidden", "The receipt's signature does not match.", {"provider": "twilio"}
    ),
    "no_route": _error(
        "no_route",
        "No provider can deliver sms to BR now.",
        {
            "country": "BR",
            "channel": "sms",
            "reason": "no scheduling resource available and use_own_numbers is off",
        },
    ),
    "rate_limited.client_ip": _error(
        "rate_limited", "Too many requests from this client; slow down.", {"reason": "client_ip"}
    ),
    "rate_limited.resend_cooldown": _error(
        "rate_limited", "Wait before asking for the code again.", {"reason": "resend_cooldown"}
    ),
    "rate_limited.max_sends": _error(
        "rate_limited", "This verification has been sent too many times.", {"reason": "max_sends"}
    ),
    "rate_limited.destination_quota": _error(
        "rate_limited",
        "Too many codes sent to this destination; try later.",
        {"reason": "destination_quota"},
    ),
    "rate_limited.provider_recipient_limit": _error(
        "rate_limited",
        "The provider refuses more codes to this destination for now; try later.",
        {
            "id": SAMPLE_ID,
            "reason": "provider_recipient_limit",
            "attempts": [
                {
                    "provider": "aliyun",
                    "outcome": "failed",
                    "error_class": "recipient_throttled",
                    "error_code": "isv.BUSINESS_LIMIT_CONTROL",
                }
            ],
        },
    ),
    "unauthorized": _error("unauthorized", "The API key is not valid."),
    "unauthorized.needs_key": _error(
        "unauthorized", "This needs an API key: send Authorization: Bearer <key>."
    ),
    "idempotency_mismatch": _error(
        "idempotency_mismatch",
        "This Idempotency-Key was used with another request; use a new key for a new request.",
    ),
    "idempotency_in_progress": _error(
        "idempotency_in_progress", "A request with this Idempotency-Key is still being answered."
    ),
    "too_many_attempts": _error("too_many_attempts", "Too many wrong codes; request a new one."),
    "delivery_failed": _error(
        "delivery_failed",
        "The code could not be delivered.",
        {
            "id": SAMPLE_ID,
            "reason": "exhausted",
            "attempts": [
                {
                    "provider": "aliyun",
                    "outcome": "failed",
                    "error_class": "transient",
                    "error_code": "isp.RAM_PERMISSION_DENY",
                }
            ],
        },
    ),
    "delivery_failed.permanent": _error(
        "delivery_failed",
        "The code could not be delivered. The destination refused it.",
        {
            "id": SAMPLE_ID,
            "reason": "permanent",
            "attempts": [
                {
                    "provider": "twilio",
                    "outcome": "failed",
                    "error_class": "permanent",
                    "error_code": "21610",
                }
            ],
        },
        status=422,
    ),
    "unavailable": _error(
        "unavailable", "The service's storage is unreachable; try again shortly."
    ),
    "unavailable.readiness": _error(
        "unavailable", "Redis does not answer.", {"redis": "Error 111 connecting to redis:6379."}
    ),
    "internal_error": _error("internal_error", "An unexpected error occurred."),
    # The fraud guard
    **{
        f"fraud_blocked.{scope}": _error(
            "fraud_blocked",
            "Codes to this destination are held back for now; try later.",
            {"reason": scope},
        )
        for scope in SCOPES
    },
    "challenge_required": _error(
        "challenge_required",
        "Prove this is a person: solve the bot check and send its token as captcha_token.",
        {
            "reason": "prefix",
            "failed": "missing",
            "provider": "turnstile",
            "site_key": "0x4AAAAAAAB5bcDeFgHiJkLm",
        },
    ),
    "not_found.block": _error("not_found", "No prefix block of +4915212345 is in force."),
    "validation_error.block": _error(
        "validation_error", "Not a country to unblock: 'XX'.", {"fields": {}}
    ),
    # TOTP factors
    "not_found.factor": _error("not_found", "No such factor."),
    "not_found.entity": _error("not_found", "The entity has no verified factor."),
    "validation_error.entity": _error(
        "validation_error",
        "The entity has 2 verified factors: say which one.",
        {"fields": {"factor_id": ["The entity has 2 verified factors: say which one."]}},
    ),
    "code_replayed": _error(
        "code_replayed", "This code, or a later one, was already used; wait for the next code."
    ),
    "factor_unverified": _error(
        "factor_unverified", "The factor is not verified yet: confirm it with a code first."
    ),
    "factor_limit": _error(
        "factor_limit",
        "The entity has as many factors as allowed; delete one first.",
        {"factors": 5, "max_factors": 5},
    ),
    "factor_locked": _error(
        "factor_locked",
        "Too many wrong codes; the factor is locked for a while.",
        {"retry_after": 300},
    ),
    "factor_unreadable": _error(
        "factor_unreadable",
        "This factor's secret cannot be opened with the configured keys.",
        {"factor_id": SAMPLE_FACTOR_ID, "key_id": "2024q1"},
    ),
}
