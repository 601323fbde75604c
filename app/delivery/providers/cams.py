"""Alibaba Cloud Chat App Message Service (cams 2020-06-06 SendChatappMessage): WhatsApp
template messages through the official SDK, its SMS fallback, and its status pushes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from . import _alibabacloud as alibabacloud
from . import _template_sms as common
from ._common import (
    callback_token,
    check_url_token,
    json_reports,
    missing_extra,
    optional,
)
from .base import (
    CallbackAnswer,
    CallbackRequest,
    ConfigError,
    FailureClass,
    Message,
    ProviderContext,
    Receipt,
    SendResult,
)

KIND = "cams"
CHANNELS = frozenset({"whatsapp"})
DEFAULT_REGION = "ap-southeast-1"
FALLBACK_SECONDS = (60, 43200)  # FallBackDuration bounds

T, R = FailureClass.TRANSIENT, FailureClass.ROUTE
# Body codes (HTTP 200, Code != "OK") and error codes of failed HTTP calls. Nothing here is
# PERMANENT: a recipient WhatsApp cannot reach may still get the code by SMS, and a
# permanent failure would stop the plan before its SMS fallback steps.
ERROR_CODES: dict[str, FailureClass] = {
    # "Public error codes" of cams 2020-06-06.
    "999999": T,  # system exception, try again
    "ERR-COMMON-001": T,  # system exception
    "CHAT.APIError": T,  # internal system error (HTTP 500)
    "ERR-OPERATION-MAAP-0060": R,  # no WhatsApp Business Account bound to this customer
    "ERR-OPERATION-MAAP-0065": R,  # the From number is not bound to this customer
    "DetailError.TemplateNotExist": R,
    # "API error codes" of Chat App Message Service.
    "Authentication.NoAuth": R,
    # Listed among the template checks: our numbers are validated before any send, so this
    # blames our From number or the request rather than the recipient.
    "InvalidParameter.PhoneNumberError": R,
    "InvalidParameter.SendSmsNotSupport": R,  # SMS fallback not enabled for this account
    # Alibaba Cloud's gateway, common to every product.
    "InvalidAccessKeyId.NotFound": R,
    "SignatureDoesNotMatch": R,
}
ERROR_PREFIXES: dict[str, FailureClass] = {
    "InvalidParameter": R,  # template code, language, channel type, number formats
    "Throttling": T,
    "ServiceUnavailable": T,
    "InternalError": T,
    "Forbidden": R,  # RAM permissions of the AccessKey
}

# ChatAppStatus values: Sent is interim, Deleted is never pushed by WhatsApp.
DELIVERED = frozenset({"Delivered", "Read"})
FAILED = "Failed"


@dataclass(frozen=True)
class _Template:
    code: str
    language: str  # WhatsApp's language code, e.g. en, zh_CN


@dataclass(frozen=True)
class _Sending:
    """What every SendChatappMessage of one provider shares."""

    from_number: str | None
    cust_space_id: str | None
    templates: dict[str, dict[str, _Template]]
    params: dict[str, str]
    fallback_id: str | None
    fallback_after: int | None


class CamsProvider:
    """Sends WhatsApp template messages; the template gets the code, an SMS fallback the text."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        client: Any,
        sending: _Sending,
        timeout: float,
        callback_token: str | None = None,
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._sending = sending
        self._timeout = timeout
        self._callback_token = callback_token

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings and build the SDK client once."""
        sending = _Sending(
            from_number=optional(settings, "from_number"),
            cust_space_id=optional(settings, "cust_space_id"),
            templates=_templates(settings),
            params=common.named_params(settings),
            fallback_id=optional(settings, "fallback_id"),
            fallback_after=_fallback_after(settings),
        )
        client = _client(settings)
        return cls(name, channels, client, sending, context.send_timeout, callback_token(settings))

    def send(self, message: Message) -> SendResult:
        """Send one template message; body codes other than OK become ProviderError."""
        sender = message.sender or self._sending.from_number
        if not sender:
            raise common.failure(KIND, R, None, "no business number: set from_number")
        body = self._call(message, sender, self._template(message))
        if body.code != "OK":
            failure_class = common.classify(body.code or "", ERROR_CODES, ERROR_PREFIXES)
            raise common.failure(KIND, failure_class or R, body.code, body.message)
        # The SMS fallback is armed with the message: Alibaba sends it if WhatsApp fails.
        fallback = "sms" if self._sending.fallback_id else None
        return SendResult(message_id=body.message_id, fallback=fallback)

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the token in the callback URL and read the pushed ChatAppStatus array."""
        check_url_token(request.url, self._callback_token, KIND)
        receipts = (_receipt(report) for report in json_reports(request.body, KIND))
        return [receipt for receipt in receipts if receipt is not None]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """The answer Alibaba Cloud's HTTP batch push takes as received."""
        return alibabacloud.PUSH_ANSWER

    def _template(self, message: Message) -> _Template:
        """The template for the message's purpose in its locale, its language, or English."""
        locales = self._sending.templates.get(message.purpose, {})
        locale = message.locale.replace("_", "-")
        for candidate in (locale, locale.split("-")[0], "en"):
            if candidate in locales:
                return locales[candidate]
        raise common.failure(
            KIND, R, None, f"no template for purpose {message.purpose!r} in {message.locale!r}"
        )

    def _call(self, message: Message, sender: str, template: _Template) -> Any:
        """The SendChatappMessage response body; SDK errors become ProviderError."""
        from alibabacloud_cams20200606.models import SendChatappMessageRequest
        from Tea.exceptions import TeaException

        values = common.param_values(message)
        request = SendChatappMessageRequest(
            channel_type="whatsapp",
            type="template",
            template_code=template.code,
            language=template.language,
            from_=sender.lstrip("+"),
            to=message.to.lstrip("+"),
            template_params={var: values[name] for name, var in self._sending.params.items()},
            cust_space_id=self._sending.cust_space_id,
            **self._fallback(message),
        )
        try:
            return self._client.send_chatapp_message_with_options(
                request, alibabacloud.runtime(self._timeout)
            ).body
        except TeaException as exc:
            raise alibabacloud.sdk_failure(KIND, exc, ERROR_CODES, ERROR_PREFIXES) from exc

    def _fallback(self, message: Message) -> dict[str, Any]:
        """FallBack* fields: the strategy set up in the console, and the SMS text to send."""
        if not self._sending.fallback_id:
            return {}
        return {
            "fall_back_id": self._sending.fallback_id,
            "fall_back_content": message.text,
            "fall_back_duration": self._sending.fallback_after,
        }


def _client(settings: Mapping[str, Any]) -> Any:
    """The SDK client, pointed at `endpoint` (or the one the SDK derives from `region`)."""
    try:
        from alibabacloud_cams20200606.client import Client
    except ImportError:
        raise missing_extra(KIND) from None
    return Client(alibabacloud.client_config(settings, KIND, None, DEFAULT_REGION))


def _templates(settings: Mapping[str, Any]) -> dict[str, dict[str, _Template]]:
    """`templates`: purpose -> locale -> template code, or {code, language}."""
    templates = settings.get("templates")
    if not isinstance(templates, Mapping) or not templates:
        raise ConfigError("templates", "required: purpose -> locale -> template code")
    return {
        str(purpose): _locales(f"templates.{purpose}", locales)
        for purpose, locales in templates.items()
    }


def _locales(key: str, locales: object) -> dict[str, _Template]:
    if not isinstance(locales, Mapping) or not locales:
        raise ConfigError(key, "a mapping of locale -> template code or {code, language}")
    return {
        str(locale).replace("_", "-"): _template(f"{key}.{locale}", str(locale), entry)
        for locale, entry in locales.items()
    }


def _template(key: str, locale: str, entry: object) -> _Template:
    """One template; its language defaults to the locale in WhatsApp's form (zh-CN: zh_CN)."""
    fields = entry if isinstance(entry, Mapping) else {"code": entry}
    code = common.identifier(f"{key}.code", fields.get("code"))
    language = fields.get("language", locale.replace("-", "_"))
    if not isinstance(language, str) or not language.strip():
        raise ConfigError(f"{key}.language", "a WhatsApp language code such as en or zh_CN")
    return _Template(code, language)


def _fallback_after(settings: Mapping[str, Any]) -> int | None:
    """`fallback_after`: seconds without a delivered report before the SMS fallback."""
    value = settings.get("fallback_after")
    low, high = FALLBACK_SECONDS
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("fallback_after", f"whole seconds from {low} to {high}")
    if optional(settings, "fallback_id") is None:
        raise ConfigError("fallback_id", "required with fallback_after")
    return value


def _receipt(report: Mapping[str, Any]) -> Receipt | None:
    """A final ChatAppStatus report as a receipt; None for Sent and anything else interim."""
    status, message_id = report.get("Status"), report.get("MessageId")
    if not message_id or (status not in DELIVERED and status != FAILED):
        return None
    if status in DELIVERED:
        return Receipt(message_id=str(message_id), status="delivered")
    code = str(report.get("ErrorCode") or "") or None
    return Receipt(message_id=str(message_id), status="failed", provider_code=code)
