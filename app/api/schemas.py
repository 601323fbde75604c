"""Request bodies, validated with marshmallow; unknown fields are refused."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.delivery.autofill import APP_HASH_PATTERN

CHANNELS = ("sms", "voice", "whatsapp", "email", "wechat")


class Whole(validate.Regexp):
    """A pattern the whole value must match: `re.match` with `$` would let a trailing newline
    through. The pattern keeps its anchors for the JSON Schema in the OpenAPI document."""

    def __call__(self, value: Any) -> Any:
        pattern: re.Pattern[str] = self.regex  # type: ignore[assignment]
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class Shown(validate.Validator):
    """Text a message shows as it is: 1 to `most` characters, no surrounding spaces, none of
    `refused`, and no control, format or line-separating character (one could add a line to
    the message, or reorder what the reader sees)."""

    UNSHOWN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

    def __init__(self, most: int, refused: str = "") -> None:
        self.most = most
        self.refused = frozenset(refused)
        self.problem = f"1 to {most} visible characters, without surrounding spaces" + (
            f" or any of {refused}." if refused else "."
        )

    def __call__(self, value: Any) -> Any:
        if (
            not isinstance(value, str)
            or not 0 < len(value) <= self.most
            or value != value.strip()
            or not self.refused.isdisjoint(value)
            or any(unicodedata.category(ch) in self.UNSHOWN for ch in value)
        ):
            raise ValidationError(self.problem)
        return value


PURPOSE = Whole(r"^[a-z][a-z0-9_]{0,31}$", error="Lower-case letters, digits and _, 1 to 32.")
LOCALE = Whole(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", error="A language tag like pt-BR.")
COUNTRY = Whole(r"^[A-Za-z]{2}$", error="An ISO 3166 country code like CN.")
CODE = Whole(r"^[0-9]{4,10}$", error="4 to 10 digits.")
VERIFICATION_ID = Whole(r"^[A-Za-z0-9_-]{1,64}$", error="A verification id.")
# Formatting is phonenumbers' to judge; control characters never belong in a number.
PHONE = Whole(r"^[^\x00-\x1f\x7f]{3,32}$", error="3 to 32 characters, no control characters.")
OPENID = Whole(r"^[A-Za-z0-9_-]{6,64}$", error="An openid of the WeChat Official Account.")
# The name {app} stands for in one verification's texts (Twilio's CustomFriendlyName); no @
# or #, with which a name could forge a WebOTP line (`@domain #code`) for another site.
FRIENDLY_NAME = Shown(30, refused="@#")
APP_HASH = Whole(APP_HASH_PATTERN, error="The 11-character app hash of Android's SMS Retriever.")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CodeRequestSchema(_Strict):
    phone = fields.String(validate=PHONE)
    country = fields.String(validate=COUNTRY)
    email = fields.Email(validate=validate.Length(max=254))
    wechat_openid = fields.String(validate=OPENID)
    channel = fields.String(load_default="sms", validate=validate.OneOf(CHANNELS))
    purpose = fields.String(load_default="login", validate=PURPOSE)
    locale = fields.String(load_default="en", validate=LOCALE)
    app_hash = fields.String(
        validate=APP_HASH,
        metadata={"description": "Android's SMS Retriever hash: ends the SMS text's lines."},
    )
    captcha_token = fields.String(
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "The bot check's token (Turnstile, hCaptcha, reCAPTCHA v3)."},
    )

    @validates_schema
    def _destination(self, data: dict[str, object], **_: object) -> None:
        if data.get("channel") == "wechat" or "wechat_openid" in data:
            _wechat_destination(data)
            return
        if data.get("channel") == "email":
            if "email" not in data:
                raise ValidationError("Required for the email channel.", "email")
        elif "phone" not in data:
            raise ValidationError("Missing data for required field.", "phone")


class VerifySchema(_Strict):
    id = fields.String(validate=VERIFICATION_ID)
    phone = fields.String(validate=PHONE)
    country = fields.String(validate=COUNTRY)
    email = fields.Email(validate=validate.Length(max=254))
    wechat_openid = fields.String(validate=OPENID)
    purpose = fields.String(load_default="login", validate=PURPOSE)
    code = fields.String(required=True, validate=CODE)

    @validates_schema
    def _target(self, data: dict[str, object], **_: object) -> None:
        if not {"id", "phone", "email", "wechat_openid"} & data.keys():
            raise ValidationError(
                "Give the verification id, or the phone (or email) and purpose.", "id"
            )


def _wechat_destination(data: dict[str, object]) -> None:
    """WeCom finds its member by phone; an Official Account knows its follower by openid."""
    if data.get("channel") != "wechat":
        raise ValidationError("Only for the wechat channel.", "wechat_openid")
    if ("phone" in data) == ("wechat_openid" in data):
        raise ValidationError(
            "Give either a phone (WeCom) or a wechat_openid (Official Account).", "wechat_openid"
        )
