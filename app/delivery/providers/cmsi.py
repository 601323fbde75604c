"""BlueKing CMSI message components behind a BlueKing API gateway (ESB): send_sms,
send_voice_msg, send_mail and send_weixin, following their published interface protocol.

Every call is a JSON POST to ``<base_url><path_prefix><component>/`` carrying ``bk_app_code``,
``bk_app_secret`` and ``bk_username``; the gateway answers ``{"result", "code", "message"}``
(``data`` too for voice). Destinations as the protocol takes them:

- ``send_sms``: ``receiver``, the telephone number as digits; the default component sends
  to it with nation code 86, so only mainland China numbers (national digits) are sent
  unless ``phone_format: international`` (country code and number, for a custom component).
- ``send_voice_msg``: ``user_list_information`` with the same digits as ``mobile_phone``.
- ``send_mail``: ``receiver``, the e-mail address.
- ``send_weixin``: ``receiver``, an openid of the official account or a WeCom user id; the
  protocol has no way to address a phone number, so such a destination is refused.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, ClassVar, Self

from app.delivery.sms_text import check_signature

from . import _template_sms as common
from ._common import (
    failure_for_status,
    http_url,
    json_object,
    optional,
    post,
    require,
)
from .base import ConfigError, FailureClass, Message, ProviderContext, SendResult

KIND = "cmsi"
CHANNELS = frozenset({"sms", "voice", "email", "wechat"})
COMPONENTS = {
    "sms": "send_sms",
    "voice": "send_voice_msg",
    "email": "send_mail",
    "wechat": "send_weixin",
}
DEFAULT_PATH_PREFIX = "/api/c/compapi/cmsi/"
PHONE_FORMATS = ("national", "international")
MAINLAND = "+86"

T, R = FailureClass.TRANSIENT, FailureClass.ROUTE
# ESB error codes (common/errors.py, common/bkerrors.py of the BlueKing PaaS ESB): 13064xx are
# the caller's (our app's) faults, 13062xx the third-party system's behind a component.
ERROR_CODES: dict[str, FailureClass] = {
    "1306000": R,  # a component's own refusal, e.g. no valid receiver, no configured account
    "1306001": T,  # the gateway's Redis is down
    "1306101": R,  # the component cannot be loaded
    "1306102": R,  # the component's configuration is not valid JSON
    "1306201": T,  # request to the third-party system (SMTP, Tencent Cloud, WeChat) failed
    "1306202": T,  # its answer is not JSON
    "1306203": R,  # SSL certificates of the component missing
    "1306205": T,  # the SMTP service failed
    "1306206": R,  # no test environment for the third party
    "1306207": R,  # requests to the third party are blocked
    "1306208": T,  # the third party's answer has an unknown format
    "1306209": R,  # method not supported by the third party
    "1306401": R,  # bk_username missing or unknown
    "1306402": R,  # the user lacks permission
    "1306403": R,  # the app lacks permission to the component
    "1306404": R,  # no such component
    "1306405": R,  # the component's channel is not enabled
    "1306406": R,  # bad parameters, among them a wrong bk_app_code or bk_app_secret
    "1306407": R,  # the component's destination path cannot be formatted
    "1306429": T,  # the gateway's rate limit
}


@dataclass(frozen=True)
class _Gateway:
    url: str  # base URL and component path prefix
    credentials: dict[str, str]  # bk_app_code, bk_app_secret, bk_username
    timeout: float


@dataclass(frozen=True)
class _Texts:
    sms_signature: str | None
    mail_subject: str
    mail_sender: str | None
    wechat_heading: str
    phone_format: str


class CmsiProvider:
    """Sends SMS, voice calls, e-mail and WeChat messages through one BlueKing gateway."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self, name: str, channels: frozenset[str], gateway: _Gateway, texts: _Texts
    ) -> None:
        self.name = name
        self.channels = channels
        self._gateway = gateway
        self._texts = texts

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings; connections are opened per message."""
        gateway = _gateway(settings, context.send_timeout)
        return cls(name, channels, gateway, _texts(settings, channels))

    def send(self, message: Message) -> SendResult:
        """Call the channel's component; its `result` decides, its `code` classifies."""
        component = COMPONENTS[message.channel]
        status, answer = self._post(component, self._fields(message))
        if 200 <= status < 300 and answer.get("result") is True:
            return SendResult(message_id=_message_id(answer))
        code = answer.get("code")
        code = None if code in (None, "") else str(code)
        failure_class = ERROR_CODES.get(code or "") or failure_for_status(status)
        raise common.failure(KIND, failure_class, code, answer.get("message") or status)

    def _fields(self, message: Message) -> dict[str, Any]:
        """The component's own parameters for this message."""
        texts = self._texts
        if message.channel == "email":
            fields = {"receiver": message.to, "title": texts.mail_subject, "body_format": "Text"}
            return {**fields, "content": message.text, "sender": texts.mail_sender}
        if message.channel == "wechat":
            data = {"heading": texts.wechat_heading, "message": message.text}
            return {"receiver": _wechat_receiver(message.to), "data": data}
        digits = _phone_digits(message.to, texts.phone_format)
        if message.channel == "voice":
            spoken = message.text.replace(message.code, " ".join(message.code))
            person = {"username": message.verification_id, "mobile_phone": digits}
            return {"auto_read_message": spoken, "user_list_information": [person]}
        return {"receiver": digits, "content": f"【{texts.sms_signature}】{message.text}"}

    def _post(self, component: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST to the component; (HTTP status, JSON answer). Transport failures are TRANSIENT."""
        body = {**self._gateway.credentials, **{k: v for k, v in fields.items() if v is not None}}
        request = urllib.request.Request(  # noqa: S310 - from_settings allows only http(s)
            f"{self._gateway.url}{component}/",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            status, answer = post(request, self._gateway.timeout)
        except (OSError, HTTPException) as exc:  # refused, reset, timed out
            raise common.failure(KIND, T, None, f"transport error ({type(exc).__name__})") from exc
        return status, json_object(answer)


def _gateway(settings: Mapping[str, Any], timeout: float) -> _Gateway:
    """`base_url` (http(s)://host[:port]) and `path_prefix`; the three credentials."""
    base = require(settings, "base_url")
    http_url("base_url", base)
    prefix = optional(settings, "path_prefix") or DEFAULT_PATH_PREFIX
    if not prefix.startswith("/") or not prefix.endswith("/"):
        raise ConfigError("path_prefix", "must start and end with /, e.g. /api/c/compapi/cmsi/")
    credentials = {
        key: require(settings, key) for key in ("bk_app_code", "bk_app_secret", "bk_username")
    }
    return _Gateway(base.rstrip("/") + prefix, credentials, timeout)


def _texts(settings: Mapping[str, Any], channels: frozenset[str]) -> _Texts:
    """What the messages say around the code, checked for the channels served."""
    signature = optional(settings, "sms_signature")
    if "sms" in channels:
        try:
            check_signature(require(settings, "sms_signature"))
        except ValueError as exc:
            raise ConfigError("sms_signature", str(exc)) from None
    phone_format = optional(settings, "phone_format") or PHONE_FORMATS[0]
    if phone_format not in PHONE_FORMATS:
        raise ConfigError("phone_format", f"one of {', '.join(PHONE_FORMATS)}")
    return _Texts(
        sms_signature=signature,
        mail_subject=optional(settings, "mail_subject") or "Your verification code",
        mail_sender=optional(settings, "mail_sender"),
        wechat_heading=optional(settings, "wechat_heading") or "Verification code",
        phone_format=phone_format,
    )


def _phone_digits(e164: str, phone_format: str) -> str:
    """The telephone as the components take it: national digits of a mainland number, or
    country code and number when the gateway's component handles other countries."""
    if phone_format == "international":
        return e164.lstrip("+")
    if not e164.startswith(MAINLAND):
        raise common.failure(KIND, R, None, "the default components reach +86 numbers only")
    return e164[len(MAINLAND) :]


def _wechat_receiver(to: str) -> str:
    """An openid or WeCom user id; send_weixin cannot address a phone number."""
    if to.startswith("+") or "@" in to:
        raise common.failure(KIND, R, None, "send_weixin needs an openid or a WeCom user id")
    return to


def _message_id(answer: Mapping[str, Any]) -> str:
    """The voice component's instance id, the gateway's request id, or one of our own."""
    data = answer.get("data")
    instance = data.get("instance_id") if isinstance(data, dict) else None
    known = instance or answer.get("request_id")
    return str(known) if known else f"cmsi-{uuid.uuid4().hex}"
