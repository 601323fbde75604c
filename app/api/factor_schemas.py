"""Bodies of the TOTP factor endpoints: requests (validated) and answers (documented)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.factors.store import STATUSES

from .schemas import PURPOSE, Whole, _Strict

# An opaque id of the tenant's own: no phone number, e-mail address or name belongs here.
ENTITY = Whole(r"^[A-Za-z0-9_-]{1,64}$", error="1 to 64 of A-Z a-z 0-9 _ -: the user's opaque id.")
FACTOR_ID = Whole(r"^YF[a-z2-7]{26}$", error="A factor id (YF...).")
TOTP_CODE = Whole(r"^[0-9]{6}$", error="6 digits.")
# What the authenticator app shows; a colon would split it into issuer and account.
APP_TEXT = Whole(r"^[^:\x00-\x1f\x7f]{1,64}$", error="1 to 64 characters, no colon.")


class EnrolSchema(_Strict):
    entity = fields.String(required=True, validate=ENTITY)
    label = fields.String(validate=APP_TEXT)
    issuer = fields.String(validate=APP_TEXT)


class ConfirmSchema(_Strict):
    code = fields.String(required=True, validate=TOTP_CODE)


class FactorVerifySchema(_Strict):
    factor_id = fields.String(validate=FACTOR_ID)
    entity = fields.String(validate=ENTITY)
    code = fields.String(required=True, validate=TOTP_CODE)
    purpose = fields.String(load_default="login", validate=PURPOSE)

    @validates_schema
    def _one_factor(self, data: dict[str, object], **_: object) -> None:
        if ("factor_id" in data) == ("entity" in data):
            raise ValidationError(
                "Give the factor_id, or the entity (its only factor).", "factor_id"
            )


def _number(description: str, **options: Any) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description}, **options)


class FactorSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The factor id."})
    entity = fields.String(required=True, metadata={"description": "The tenant's user id."})
    status = fields.String(required=True, validate=validate.OneOf(list(STATUSES.values())))
    created = _number("Unix time, seconds.")
    last_used = _number("Unix time of the last accepted code; null before.", allow_none=True)
    expires_in = _number(
        "Seconds an unverified factor has left to be confirmed; null once verified.",
        allow_none=True,
    )


class EnrolledSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The factor id."})
    entity = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["unverified"]))
    created = _number("Unix time, seconds.")
    period = _number("Seconds per code (the time step).")
    digits = _number("Digits per code.")
    expires_in = _number("Seconds left to confirm the factor with a first code.")
    secret = fields.String(
        required=True,
        metadata={"description": "Base32 secret, for typing in by hand. Shown this once."},
    )
    uri = fields.String(required=True, metadata={"description": "The otpauth:// URI."})
    qr_svg = fields.String(required=True, metadata={"description": "The URI as a QR code, SVG."})


class FactorListSchema(Schema):
    entity = fields.String(required=True)
    factors = fields.List(fields.Nested(FactorSchema), required=True)


class FactorApprovedSchema(Schema):
    factor_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["approved"]))
    token = fields.String(
        required=True,
        metadata={"description": "An EdDSA-signed JWT: `sub` the entity, `factor` totp."},
    )


class FactorDeletedSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["deleted"]))


SAMPLE_FACTOR_ID = "YFumxtf6ej7f5t5ncvu2wyjmik76"
SAMPLE_ENTITY = "user_8f14e45f"
_BASE32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_URI = f"otpauth://totp/Acme:{SAMPLE_ENTITY}?secret={_BASE32}&issuer=Acme"
_FACTOR = {"id": SAMPLE_FACTOR_ID, "entity": SAMPLE_ENTITY, "created": 1795304092}
_SAMPLE_JWT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Imo3enhDSllWWEFBOGlPTnQiLCJ0eXAiOiJKV1QifQ"
    ".eyJmYWN0b3IiOiJ0b3RwIiwiaXNzIjoib3RwLXNlcnZpY2UiLCJzdWIiOiJ1c2VyXzhmMTRlNDVmIn0"
    ".91FFM2QJouVcppuOfcZ7agwcNB1-73zIfT9aJ4tV7rn04xQHFg6O8l4Apy2Um9fJ2YRTCeG28atnRRCn5RruBQ"
)

EXAMPLES: dict[type[Schema], dict[str, Any]] = {
    EnrolledSchema: {
        "enrolled": {
            **_FACTOR,
            "status": "unverified",
            "period": 30,
            "digits": 6,
            "expires_in": 600,
            "secret": _BASE32,
            "uri": _URI,
            "qr_svg": '<svg xmlns="http://www.w3.org/2000/svg" width="164" height="164">...</svg>',
        }
    },
    FactorSchema: {
        "verified": {**_FACTOR, "status": "verified", "last_used": 1795304120, "expires_in": None}
    },
    FactorListSchema: {
        "factors": {
            "entity": SAMPLE_ENTITY,
            "factors": [
                {**_FACTOR, "status": "verified", "last_used": 1795304120, "expires_in": None}
            ],
        }
    },
    FactorApprovedSchema: {
        "approved": {"factor_id": SAMPLE_FACTOR_ID, "status": "approved", "token": _SAMPLE_JWT}
    },
    FactorDeletedSchema: {"deleted": {"id": SAMPLE_FACTOR_ID, "status": "deleted"}},
}

ENROL_EXAMPLES = {
    "entity": {"entity": SAMPLE_ENTITY},
    "labelled": {"entity": SAMPLE_ENTITY, "label": "ada@example.com", "issuer": "Acme"},
}
CONFIRM_EXAMPLES = {"code": {"code": "492039"}}
VERIFY_EXAMPLES = {
    "by_factor": {"factor_id": SAMPLE_FACTOR_ID, "code": "492039"},
    "by_entity": {"entity": SAMPLE_ENTITY, "code": "492039", "purpose": "login"},
}
