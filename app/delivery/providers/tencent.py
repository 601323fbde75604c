"""Tencent Cloud SMS (API 2021-01-11 SendSms) through its official SDK, and its SMS status
callbacks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Self

from app.delivery.sms_text import check_positional_template, positional_placeholders

from . import _template_sms as common
from . import _tencentcloud as tencentcloud
from ._common import (
    callback_token,
    check_channels,
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
    Receipt,
    SendResult,
)

KIND = "tencent"
# Tencent Cloud pushes a status callback again unless answered with this.
PUSH_ANSWER = CallbackAnswer(json.dumps({"result": 0, "errmsg": "OK"}))

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
# Per-number SendStatus codes (HTTP 200) and request-level error codes share one namespace.
# Account, signature, template and content problems are ROUTE: they fail every message on
# this provider, yet another provider may deliver.
ERROR_CODES: dict[str, FailureClass] = {
    **tencentcloud.SDK_CODES,
    "FailedOperation.PhoneNumberInBlacklist": P,  # the recipient opted out
    "FailedOperation.PhoneNumberParseFail": P,
    "InvalidParameterValue.IncorrectPhoneNumber": P,
    "FailedOperation.SignatureIncorrectOrUnapproved": R,
    "FailedOperation.TemplateIncorrectOrUnapproved": R,
    "FailedOperation.TemplateUnapprovedOrNotExist": R,
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": R,
    "FailedOperation.InsufficientBalanceInSmsPackage": R,
    "FailedOperation.ContainSensitiveWord": R,
    "InvalidParameterValue.TemplateParameterFormatError": R,
    "InvalidParameterValue.TemplateParameterLengthLimit": R,
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": R,
    "InvalidParameterValue.ContentLengthLimit": R,
    "InvalidParameterValue.SdkAppIdNotExist": R,
    "LimitExceeded.AppDailyLimit": R,  # account-wide quotas: this provider is spent for now
    "LimitExceeded.AppGlobalDailyLimit": R,
    "LimitExceeded.AppMainlandChinaDailyLimit": R,
    "LimitExceeded.AppCountryOrRegionDailyLimit": R,
    "LimitExceeded.AppCountryOrRegionInBlacklist": R,
    "LimitExceeded.DailyLimit": R,
    "LimitExceeded.PhoneNumberCountLimit": R,  # too many numbers per request: not ours to get
    "UnsupportedOperation.UnsupportedRegion": R,
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": R,
    "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": R,
}
ERROR_PREFIXES: dict[str, FailureClass] = {
    # Per-number frequency caps (30 s / 1 h / day): Tencent's own throttling of this number,
    # not a bad number, so another provider may send now.
    "LimitExceeded.PhoneNumber": T,
    **tencentcloud.SDK_PREFIXES,
}


class TencentProvider:
    """Sends template SMS through Tencent Cloud; parameters fill {1}, {2}, ... in order."""

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        client: Any,
        request_fields: dict[str, Any],
        templates: dict[str, str],
        params: tuple[str, ...],
        callback_token: str | None = None,
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._fields = request_fields
        self._templates = templates
        self._params = params
        self._callback_token = callback_token

    @classmethod
    def from_settings(
        cls, name: str, channels: frozenset[str], settings: Mapping[str, Any], timeout: float
    ) -> Self:
        """Validate the settings (template bodies included, when given) and build the client."""
        check_channels(channels, common.SMS_ONLY)
        templates = common.template_ids(settings)
        params = common.positional_params(settings)
        _check_bodies(settings, templates, len(params))
        fields = {
            "SmsSdkAppId": common.identifier("sdk_app_id", settings.get("sdk_app_id")),
            "SignName": common.signature_setting(settings, "sign_name"),
            "SenderId": optional(settings, "sender_id"),
        }
        client = _client(settings, timeout)
        token = callback_token(settings)
        return cls(name, channels, client, fields, templates, params, token)

    def send(self, message: Message) -> SendResult:
        """Send one templated SMS; a per-number status other than Ok becomes ProviderError."""
        template = common.template_for(KIND, self._templates, message)
        status = self._call(message, template)
        if status.Code != "Ok":  # sic: Tencent's success code is "Ok", not "OK"
            failure_class = common.classify(status.Code or "", ERROR_CODES, ERROR_PREFIXES)
            raise common.failure(KIND, failure_class or R, status.Code, status.Message)
        return SendResult(message_id=status.SerialNo)

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the token in the callback URL and read the pushed array of status reports."""
        check_url_token(request.url, self._callback_token, KIND)
        reports = json_reports(request.body, KIND)
        return [_receipt(report) for report in reports if report.get("sid")]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """The answer Tencent Cloud takes as received."""
        return PUSH_ANSWER

    def _call(self, message: Message, template: str) -> Any:
        """The SendStatus of our one number; SDK exceptions become ProviderError."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111.models import SendSmsRequest

        values = common.param_values(message)
        request = SendSmsRequest()
        request.PhoneNumberSet = [message.to]
        request.TemplateId = template
        request.TemplateParamSet = [values[name] for name in self._params]
        request.SmsSdkAppId = self._fields["SmsSdkAppId"]
        request.SignName = self._fields["SignName"]
        request.SenderId = message.sender or self._fields["SenderId"]
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise tencentcloud.sdk_failure(KIND, exc, ERROR_CODES, ERROR_PREFIXES) from exc
        if not response.SendStatusSet:
            # The SDK only recognises an error body served as exactly "application/json";
            # any other content type yields an empty response instead of an exception.
            raise common.failure(KIND, T, None, "no send status in the response")
        return response.SendStatusSet[0]


def _check_bodies(settings: Mapping[str, Any], templates: Mapping[str, str], count: int) -> None:
    """`template_bodies` (optional): each approved body must fit the parameters we send."""
    bodies = settings.get("template_bodies") or {}
    if not isinstance(bodies, Mapping):
        raise ConfigError("template_bodies", "a mapping of purpose -> approved template text")
    for purpose, body in bodies.items():
        key = f"template_bodies.{purpose}"
        if purpose not in templates:
            raise ConfigError(key, "no template id for this purpose in templates")
        if not isinstance(body, str):
            raise ConfigError(key, "must be the approved template text")
        try:
            check_positional_template(body)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        if len(set(positional_placeholders(body))) != count:
            raise ConfigError(key, f"template_params fills {count} placeholder(s), not these")


def _client(settings: Mapping[str, Any], timeout: float) -> Any:
    """The SDK client, built once."""
    try:
        from tencentcloud.sms.v20210111.sms_client import SmsClient
    except ImportError:
        raise missing_extra(KIND) from None
    return SmsClient(*tencentcloud.client_arguments(settings, timeout, KIND))


def _receipt(report: Mapping[str, Any]) -> Receipt:
    """One status report: `report_status` SUCCESS or FAIL, `errmsg` the carrier's status code."""
    status = "delivered" if report.get("report_status") == "SUCCESS" else "undelivered"
    code = str(report.get("errmsg") or "") or None
    return Receipt(message_id=str(report["sid"]), status=status, provider_code=code)
