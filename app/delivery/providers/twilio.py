"""Twilio adapter: SMS, WhatsApp and voice calls through the twilio SDK, plus status callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from ._common import (
    failure_for_status,
    header,
    missing_extra,
    optional,
    redact,
    require,
)
from ._whatsapp import WhatsAppContent
from .base import (
    CallbackAnswer,
    CallbackRequest,
    ConfigError,
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    ReceiptRejected,
    SendResult,
)

_PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21217,  # 'To' number does not appear to be valid (voice)
        21610,  # recipient unsubscribed (replied STOP)
        21614,  # 'To' is not a mobile number
    }
)
_ROUTE_CODES = frozenset(
    {
        # Authentication failed: a configuration fault that retrying this account cannot fix,
        # yet a differently configured provider may still deliver.
        20003,
        21212,  # invalid 'From' number
        21215,  # geo permissions do not allow calling this number
        21408,  # permission to send to this region not enabled
        21606,  # 'From' is not a message-capable number of this account
        21612,  # cannot route to this number
        # WhatsApp: the sender, the template or this recipient on WhatsApp. None stops the plan:
        # the number may still take an SMS through a channel fallback.
        63007,  # WhatsApp sender not found for this account
        63016,  # outside the 24-hour window: a template (ContentSid) is needed
        63027,  # the template does not exist for this language and locale
        63028,  # the number of template parameters does not match
        63049,  # Meta chose not to deliver this message
    }
)
# WhatsApp cannot reach this recipient through this sender; the number may still take an SMS.
_UNREACHABLE_CODES = frozenset(
    {
        63003,  # the To address is not on WhatsApp (any more)
        63014,  # the recipient blocked the business on WhatsApp
        63024,  # invalid message recipient
        63032,  # WhatsApp does not deliver to this user (part of a Meta experiment)
    }
)
_TRANSIENT_CODES = frozenset(
    {
        20429,  # too many requests
        # The account's or the WhatsApp sender's messaging limit, not one recipient's: this
        # provider is spent for now, another may send.
        63018,
    }
)
# More than 30 messages between the same two numbers in 30 seconds: Twilio fails further
# ones for 30 seconds. The only Twilio code about too many messages to one recipient (30022
# is the campaign's 10DLC throughput, 63018 the account's or WhatsApp sender's limit).
_RECIPIENT_THROTTLED_SECONDS = {"14107": 30}
_FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed"})
# Twilio <Say> language for a bare locale; a locale with a region is passed through.
_VOICE_LANGUAGES = {
    "en": "en-US",
    "es": "es-ES",
    "fr": "fr-FR",
    "de": "de-DE",
    "it": "it-IT",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "ja": "ja-JP",
    "zh": "zh-CN",
}


@dataclass(frozen=True)
class _Senders:
    from_number: str | None
    messaging_service_sid: str | None
    whatsapp_from: str | None
    status_callback: str | None


class TwilioProvider:
    """Sends through Twilio's Messages and Calls APIs."""

    kind: ClassVar[str] = "twilio"
    serves: ClassVar[frozenset[str]] = frozenset({"sms", "whatsapp", "voice"})

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        client: Any,
        validator: Any,
        senders: _Senders,
        whatsapp: WhatsAppContent,
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._validator = validator
        self._senders = senders
        self._whatsapp = whatsapp

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings and build the SDK client once."""
        senders = _senders(settings, channels)
        whatsapp = WhatsAppContent.from_settings(settings, channels)
        account_sid, auth_token = require(settings, "account_sid"), require(settings, "auth_token")
        try:
            from twilio.request_validator import RequestValidator
        except ImportError as exc:
            raise missing_extra("twilio") from exc
        base_url = optional(settings, "base_url")
        client = _client(account_sid, auth_token, base_url, context.send_timeout)
        return cls(name, channels, client, RequestValidator(auth_token), senders, whatsapp)

    def send(self, message: Message) -> SendResult:
        """Send one SMS, WhatsApp message or voice call."""
        from requests import RequestException
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            if message.channel == "voice":
                return SendResult(message_id=self._call(message).sid)
            return SendResult(message_id=self._message(message).sid)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _provider_error(exc) from exc
        except RequestException as exc:
            raise ProviderError(FailureClass.TRANSIENT, f"twilio unreachable: {exc}") from exc

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check a message status callback's signature and read its final status."""
        signature = header(request.headers, "X-Twilio-Signature")
        if not self._validator.validate(request.url, dict(request.form), signature):
            raise ReceiptRejected("bad X-Twilio-Signature")
        status = request.form.get("MessageStatus", "")
        if status not in _FINAL_STATUSES:
            return []  # queued, sent, read, ...: not an outcome
        sid, code = request.form.get("MessageSid", ""), request.form.get("ErrorCode") or None
        throttled = code in _RECIPIENT_THROTTLED_SECONDS
        failure = FailureClass.RECIPIENT_THROTTLED if throttled else None
        return [Receipt(message_id=sid, status=status, provider_code=code, failure=failure)]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """Twilio reads no body of a status callback's answer: 204 No Content."""
        return CallbackAnswer("", content_type="text/plain", status=204)

    def _message(self, message: Message) -> Any:
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        content = self._whatsapp.params(message) if prefix else {"body": message.text}
        params = {"to": prefix + message.to, **content, **self._origin(message, prefix)}
        if self._senders.status_callback:
            params["status_callback"] = self._senders.status_callback
        return self._client.messages.create(**params)

    def _origin(self, message: Message, prefix: str) -> dict[str, str]:
        """The tenant's own sender first, then WhatsApp's, the messaging service, the number."""
        sender = message.sender or (self._senders.whatsapp_from if prefix else None)
        if sender is None and self._senders.messaging_service_sid:
            return {"messaging_service_sid": self._senders.messaging_service_sid}
        return {"from_": prefix + str(sender or self._senders.from_number)}

    def _call(self, message: Message) -> Any:
        return self._client.calls.create(
            to=message.to,
            from_=message.sender or self._senders.from_number,
            twiml=_twiml(message),
        )


def _senders(settings: Mapping[str, Any], channels: frozenset[str]) -> _Senders:
    senders = _Senders(
        from_number=optional(settings, "from_number"),
        messaging_service_sid=optional(settings, "messaging_service_sid"),
        whatsapp_from=optional(settings, "whatsapp_from"),
        status_callback=optional(settings, "status_callback"),
    )
    if not (senders.from_number or senders.messaging_service_sid):
        raise ConfigError("from_number", "set from_number or messaging_service_sid")
    if "voice" in channels and not senders.from_number:
        raise ConfigError("from_number", "voice calls need a from_number")
    return senders


def _client(account_sid: str, auth_token: str, base_url: str | None, timeout: float) -> Any:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
    if base_url:
        # TWILIO_EDGE / TWILIO_REGION would rewrite the host to api.<edge>.<region>.twilio.com.
        client.edge = None
        client.region = None
        client.api.base_url = base_url.rstrip("/")
    return client


def _provider_error(exc: Any) -> ProviderError:
    code, status = exc.code, exc.status
    retry_after = _RECIPIENT_THROTTLED_SECONDS.get(str(code))
    if retry_after is not None:
        failure = FailureClass.RECIPIENT_THROTTLED
    elif code in _PERMANENT_CODES:
        failure = FailureClass.PERMANENT
    elif code in _ROUTE_CODES:
        failure = FailureClass.ROUTE
    elif code in _UNREACHABLE_CODES:
        failure = FailureClass.UNREACHABLE
    elif code in _TRANSIENT_CODES:
        failure = FailureClass.TRANSIENT
    else:
        failure = failure_for_status(status)
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
    provider_code = None if code is None else str(code)
    message = f"twilio {status}: {redact(str(text))}"
    return ProviderError(failure, message, provider_code, retry_after)


def _twiml(message: Message) -> str:
    """TwiML that reads the code digit by digit, twice."""
    from twilio.twiml.voice_response import VoiceResponse

    digits = ", ".join(message.code)
    spoken = message.text.replace(message.code, digits) if message.code in message.text else digits
    response = VoiceResponse()
    for _ in range(2):
        response.say(spoken, language=_voice_language(message.locale))
        response.pause(length=1)
    return str(response)


def _voice_language(locale: str) -> str | None:
    language, _, region = locale.replace("_", "-").partition("-")
    if language.lower() not in _VOICE_LANGUAGES:
        return None  # Twilio's default voice speaks en-US
    if region:
        return f"{language.lower()}-{region.upper()}"
    return _VOICE_LANGUAGES[language.lower()]
