"""The provider protocol: what every adapter offers and what it may raise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from app.batch import Batch

    from .console import Outbox

# Every channel the service knows; a deployment enables some of them in its routing file.
CHANNELS = frozenset({"sms", "voice", "whatsapp", "email", "wechat"})


class FailureClass(StrEnum):
    """How a failed send affects the rest of the plan."""

    TRANSIENT = "transient"  # timeout, 5xx, throttled: try the next step
    ROUTE = "route"  # this provider cannot reach this destination: try the next step
    PERMANENT = "permanent"  # the recipient is bad or opted out: stop the plan
    # The provider refuses this recipient for now (too many messages to it): stop the plan, as
    # failing over would sidestep the provider's anti-flood limit; the provider is healthy.
    RECIPIENT_THROTTLED = "recipient_throttled"
    # This provider cannot reach this recipient (not a member of the WeCom corp, not on
    # WhatsApp): try the next step, which may reach it another way; the provider is healthy.
    UNREACHABLE = "unreachable"


# Failure classes about the recipient, not the provider: they never count against its health.
RECIPIENT_FAILURES = frozenset(
    {FailureClass.PERMANENT, FailureClass.RECIPIENT_THROTTLED, FailureClass.UNREACHABLE}
)
# Failure classes that end the plan: another provider would only repeat or sidestep them.
PLAN_ENDING_FAILURES = frozenset({FailureClass.PERMANENT, FailureClass.RECIPIENT_THROTTLED})


class ProviderError(Exception):
    """A send failed in a way the provider reported; the only exception dispatch catches."""

    def __init__(
        self,
        failure: FailureClass,
        message: str,
        provider_code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.provider_code = provider_code
        self.retry_after = retry_after  # seconds, for RECIPIENT_THROTTLED: when to try again


class ConfigError(ValueError):
    """A provider's settings are unusable; names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Message:
    """One message to deliver. `text` is rendered for text providers; template
    providers build their parameters from `code`, `ttl_minutes` and `app`."""

    to: str  # E.164 phone number, or an e-mail address for the email channel
    channel: str  # sms, voice, whatsapp, email, wechat
    purpose: str  # login, signup, reset_password, approve, ...
    locale: str
    code: str
    ttl_minutes: int
    text: str
    verification_id: str
    sender: str | None = None  # own-numbers route: the tenant's sender for this country
    app: str = ""  # the application's name, {app} in texts (OTP_ISSUER, or the caller's)
    country: str = ""  # ISO country of the number, "" for an address without one
    app_hash: str = ""  # Android's SMS Retriever hash of the app asking, for SMS texts


@dataclass(frozen=True)
class SendResult:
    message_id: str
    cost: float | None = None
    # A channel the provider itself falls back to should this message not be delivered
    # (Chat App Message Service's SMS fallback): armed, not yet used.
    fallback: str | None = None
    # Redis writes the provider leaves to the caller's batch, which carries them with the
    # send's own records in one round trip (the console adapter's outbox).
    writes: Callable[[Batch], None] | None = None


@dataclass(frozen=True)
class Receipt:
    """A delivery report pushed by a provider."""

    message_id: str
    status: str  # delivered, undelivered, failed
    provider_code: str | None = None
    failure: FailureClass | None = None  # set when the adapter knows what the failure means


class ReceiptRejected(Exception):
    """A receipt whose signature does not check out."""


@dataclass(frozen=True)
class CallbackRequest:
    """What a receipt parser sees of the HTTP request, free of Flask."""

    url: str
    headers: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderContext:
    """What an adapter may take from the service when it is built."""

    send_timeout: float = 5.0
    # The shared Redis client, for adapters that cache tokens. Building an adapter must send it
    # nothing: `flask otp check` builds every adapter with a client that cannot connect.
    redis: Any = None
    outbox: Outbox | None = None  # development mode: where the console adapter keeps messages


class Provider(Protocol):
    """An adapter: the routing file's `type: <kind>` names it; it serves some channels."""

    kind: ClassVar[str]  # the routing file's `type`
    serves: ClassVar[frozenset[str]]  # the channels this kind of provider can serve at all
    name: str
    channels: frozenset[str]  # the channels this provider is configured for (within serves)

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Check the settings (ConfigError naming the key) and build the adapter."""
        ...

    def send(self, message: Message) -> SendResult:
        """Send one message; raise ProviderError on any failure the provider reports."""
        ...


@dataclass(frozen=True)
class CallbackAnswer:
    """The HTTP answer to a provider's push, in the shape its documentation asks for: a
    provider pushes the same reports again until it sees that shape."""

    body: str
    content_type: str = "application/json"
    status: int = 200


@runtime_checkable
class ReceiptParser(Protocol):
    """An adapter that also reads the delivery reports its provider pushes."""

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the request's signature (raise ReceiptRejected) and read its reports."""
        ...


@runtime_checkable
class CallbackAnswerer(Protocol):
    """Optional beside ReceiptParser: without it a push is answered {"accepted": n}."""

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """The answer once a push was taken; `accepted` of its reports were new."""
        ...
