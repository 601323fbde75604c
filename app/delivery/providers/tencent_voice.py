"""Tencent Cloud Voice Message Service (vms 2020-09-02 SendCodeVoice): the code read out in a
call, through the official SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from . import _template_sms as common
from . import _tencentcloud as tencentcloud
from ._common import missing_extra
from .base import ConfigError, FailureClass, Message, ProviderContext, SendResult

KIND = "tencent_voice"
CHANNELS = frozenset({"voice"})
PLAY_TIMES = (1, 3)  # the API plays the code 1 to 3 times, 2 by default
# SendCodeVoice calls mainland China mobile numbers only.
SERVED_PREFIX = "+86"

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
# The product's error codes (vms 2020-09-02 errorcodes; the older numeric codes they replace
# in brackets). Account, application and content problems are ROUTE: another provider may
# still call.
ERROR_CODES: dict[str, FailureClass] = {
    **tencentcloud.SDK_CODES,
    "InvalidParameterValue.CalledNumberVerifyFail": P,  # the called number fails the check
    "FailedOperation.AccessUpstreamTimeout": T,  # (3011)
    "InternalError.AccessUpstreamTimeout": T,  # (3011)
    "InternalError.UpstreamError": T,  # (3002)
    "InternalError.SsoSendRecvFail": T,
    "FailedOperation.ParametersOtherError": T,  # "unknown voice error" (3001)
    # Frequency limits per called number: Tencent's throttling, not a bad number (1013).
    "LimitExceeded.DeliveryFrequencyLimit": T,
    "InternalError.RequestTimeException": R,  # our clock is 10 minutes off (1021)
    "InternalError.SigVerificationFail": R,  # (1001)
    "InternalError.RestApiInterfaceNotExist": R,  # (1011)
    "FailedOperation.ContainSensitiveWord": R,  # (1002)
    "FailedOperation.FailResolvePacket": R,  # (1004)
    "FailedOperation.InvalidJsonParameters": R,  # (3003)
    "FailedOperation.InvalidParameters": R,  # (3004)
    "FailedOperation.JsonParseFail": R,
    "FailedOperation.InsufficientBalanceInVoicePackage": R,  # (1031)
    "FailedOperation.PhonenumberUnappliedOrExpired": R,  # no calling number bought (3014)
    "FailedOperation.TemplateIncorrectOrUnapproved": R,  # (1014)
    "InvalidParameterValue.ContentLengthLimit": R,  # (1036)
    "InvalidParameterValue.SdkAppidNotExist": R,  # (1019)
}
ERROR_PREFIXES = tencentcloud.SDK_PREFIXES  # UnauthorizedOperation.* (1020, 1033) among them


class TencentVoiceProvider:
    """Calls the recipient and reads the code out; the platform says the words around it."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self, name: str, channels: frozenset[str], client: Any, app_id: str, play_times: int
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._app_id = app_id
        self._play_times = play_times

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings and build the SDK client once."""
        app_id = common.identifier("voice_sdk_app_id", settings.get("voice_sdk_app_id"))
        play_times = _play_times(settings.get("play_times"))
        return cls(name, channels, _client(settings, context.send_timeout), app_id, play_times)

    def send(self, message: Message) -> SendResult:
        """Place one code call; the call id is the message id."""
        if not message.to.startswith(SERVED_PREFIX):
            raise common.failure(KIND, R, None, "voice codes reach mainland China numbers only")
        if not message.code.isdigit():
            raise common.failure(KIND, R, None, "voice codes must be digits only")
        status = self._call(message)
        if not getattr(status, "CallId", None):
            # An error body served with another content type reads as an empty answer.
            raise common.failure(KIND, T, None, "no call id in the response")
        return SendResult(message_id=status.CallId)

    def _call(self, message: Message) -> Any:
        """The SendStatus of the call; SDK exceptions become ProviderError."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.vms.v20200902.models import SendCodeVoiceRequest

        request = SendCodeVoiceRequest()
        request.CodeMessage = message.code
        request.CalledNumber = message.to
        request.VoiceSdkAppid = self._app_id
        request.PlayTimes = self._play_times
        request.SessionContext = message.verification_id
        try:
            return self._client.SendCodeVoice(request).SendStatus
        except TencentCloudSDKException as exc:
            raise tencentcloud.sdk_failure(KIND, exc, ERROR_CODES, ERROR_PREFIXES) from exc


def _play_times(value: Any) -> int:
    """`play_times`: how often the code is read out, 1 to 3; 2 when not set."""
    low, high = PLAY_TIMES
    if value is None:
        return 2
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("play_times", f"a whole number from {low} to {high}")
    return value


def _client(settings: Mapping[str, Any], timeout: float) -> Any:
    """The SDK client, built once."""
    try:
        from tencentcloud.vms.v20200902.vms_client import VmsClient
    except ImportError:
        raise missing_extra("tencent-voice") from None
    return VmsClient(*tencentcloud.client_arguments(settings, timeout, "tencent-voice"))
