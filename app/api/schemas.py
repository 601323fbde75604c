"""Request bodies, validated with marshmallow; unknown fields are refused."""

from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

CHANNELS = ("sms", "voice", "whatsapp", "email", "wechat")
PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CodeRequestSchema(_Strict):
    phone = fields.String(validate=validate.Length(min=3, max=32))
    country = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))
    email = fields.Email(validate=validate.Length(max=254))
    channel = fields.String(load_default="sms", validate=validate.OneOf(CHANNELS))
    purpose = fields.String(load_default="login", validate=validate.Regexp(PURPOSE))
    locale = fields.String(load_default="en", validate=validate.Regexp(LOCALE))

    @validates_schema
    def _destination(self, data: dict[str, object], **_: object) -> None:
        if data.get("channel") == "email":
            if "email" not in data:
                raise ValidationError("Required for the email channel.", "email")
        elif "phone" not in data:
            raise ValidationError("Missing data for required field.", "phone")


class VerifySchema(_Strict):
    id = fields.String(validate=validate.Length(min=1, max=64))
    phone = fields.String(validate=validate.Length(min=3, max=32))
    country = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))
    email = fields.Email(validate=validate.Length(max=254))
    purpose = fields.String(load_default="login", validate=validate.Regexp(PURPOSE))
    code = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4,10}$"))

    @validates_schema
    def _target(self, data: dict[str, object], **_: object) -> None:
        if "id" not in data and "phone" not in data and "email" not in data:
            raise ValidationError(
                "Give the verification id, or the phone (or email) and purpose.", "id"
            )
