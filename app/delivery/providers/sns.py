"""Amazon SNS adapter: direct-to-phone SMS through boto3's Publish(PhoneNumber=...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from ._common import failure_for_status, missing_extra, optional, redact, require
from .base import ConfigError, FailureClass, Message, ProviderContext, ProviderError, SendResult

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottling",
    }
)
_PERMANENT_CODES = frozenset({"OptedOut"})
# Bad or missing credentials / permissions: configuration, not this recipient; another
# provider may still deliver.
_ROUTE_CODES = frozenset(
    {
        "AuthorizationError",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
    }
)
_INVALID_PARAMETER_CODES = frozenset({"InvalidParameter", "InvalidParameterValue"})


class SnsProvider:
    """Publishes transactional SMS through Amazon SNS."""

    kind: ClassVar[str] = "sns"
    serves: ClassVar[frozenset[str]] = frozenset({"sms"})

    def __init__(
        self, name: str, channels: frozenset[str], client: Any, attributes: dict[str, Any]
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._attributes = attributes

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings and build the boto3 client once."""
        credentials = {
            "aws_access_key_id": require(settings, "access_key_id"),
            "aws_secret_access_key": require(settings, "secret_access_key"),
            "region_name": require(settings, "region"),
            "endpoint_url": optional(settings, "endpoint_url"),
        }
        client = _client(credentials, context.send_timeout)
        return cls(name, channels, client, _attributes(settings))

    def send(self, message: Message) -> SendResult:
        """Publish one SMS; SNS's MessageId is the message id."""
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        attributes = self._attributes
        if message.sender:
            attributes = {**attributes, **_sender_attributes(message.sender)}
        try:
            response = self._client.publish(
                PhoneNumber=message.to, Message=message.text, MessageAttributes=attributes
            )
        except ClientError as exc:
            raise _provider_error(exc.response) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise ProviderError(FailureClass.TRANSIENT, f"sns unreachable: {exc}") from exc
        return SendResult(message_id=response["MessageId"])


def _client(credentials: Mapping[str, str | None], timeout: float) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise missing_extra("sns") from exc
    # total_max_attempts counts the first try; the legacy max_attempts=1 would still retry once.
    config = Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1}
    )
    return boto3.session.Session().client("sns", config=config, **credentials)


def _attributes(settings: Mapping[str, Any]) -> dict[str, Any]:
    attributes = {"AWS.SNS.SMS.SMSType": _string("Transactional")}
    sender_id, origination = (
        optional(settings, "sender_id"),
        optional(settings, "origination_number"),
    )
    if origination and not origination.startswith("+"):
        raise ConfigError("origination_number", "must be an E.164 number such as +12065550100")
    if sender_id and sender_id.startswith("+"):
        raise ConfigError("sender_id", "must be alphanumeric; put numbers in origination_number")
    for sender in (sender_id, origination):
        attributes.update(_sender_attributes(sender) if sender else {})
    return attributes


def _sender_attributes(sender: str) -> dict[str, Any]:
    """A number is an origination number; anything else an alphanumeric sender id."""
    if sender.startswith("+"):
        return {"AWS.MM.SMS.OriginationNumber": _string(sender)}
    return {"AWS.SNS.SMS.SenderID": _string(sender)}


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _provider_error(response: Mapping[str, Any]) -> ProviderError:
    error = response.get("Error", {})
    code, text = error.get("Code", ""), redact(error.get("Message", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _TRANSIENT_CODES:
        failure = FailureClass.TRANSIENT
    elif code in _PERMANENT_CODES:
        failure = FailureClass.PERMANENT
    elif code in _INVALID_PARAMETER_CODES:
        # Only a bad phone number is the recipient's fault; a bad sender id is our configuration.
        failure = FailureClass.PERMANENT if "PhoneNumber" in text else FailureClass.ROUTE
    elif code in _ROUTE_CODES:
        failure = FailureClass.ROUTE
    else:
        failure = failure_for_status(status)
    return ProviderError(failure, f"sns {code}: {text}", code or None)
