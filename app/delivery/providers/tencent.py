"""Tencent Cloud SMS (API 2021-01-11 SendSms) through its official SDK, and its SMS status
callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, Self

from app.delivery.sms_text import check_positional_template, positional_placeholders

from . import _template_sms as common
from . import _tencentcloud as tencentcloud
from ._common import (
    callback_token,
    check_url_token,
    json_object,
    json_reports,
    missing_extra,
    optional,
)
from .base import (
    CallbackAnswer,
    CallbackRequest,
    FailureClass,
    Message,
    ProviderContext,
    ProviderError,
    Receipt,
    SendResult,
)

KIND = "tencent"
# Tencent Cloud pushes a status callback again unless answered with this.
PUSH_ANSWER = CallbackAnswer(json.dumps({"result": 0, "errmsg": "OK"}))

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
RT = FailureClass.RECIPIENT_THROTTLED
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
    # The console's frequency policy for one number (30 s, 1 h, a calendar day).
    "LimitExceeded.DeliveryFrequencyLimit": RT,
    "UnsupportedOperation.UnsupportedRegion": R,
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": R,
    "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": R,
}
ERROR_PREFIXES: dict[str, FailureClass] = {
    # Per-number frequency caps (30 s, 1 h, a day, the same content a day): Tencent's
    # anti-flood limit for this recipient, which failing over would only sidestep.
    "LimitExceeded.PhoneNumber": RT,
    **tencentcloud.SDK_PREFIXES,
}
# How long a recipient throttle lasts, by the window its code names; a daily cap lasts
# until midnight China Standard Time (the calendar day Tencent counts in).
THROTTLE_SECONDS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600,
}
DAILY_THROTTLES = frozenset(
    {"LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit"}
)
THROTTLE_DEFAULT_SECONDS = 60
CHINA_UTC_OFFSET = 8 * 3600


class TencentProvider:
    """Sends template SMS through Tencent Cloud; parameters fill {1}, {2}, ... in order."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = common.SMS_ONLY

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
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings (template bodies included, when given) and build the client."""
        templates = common.template_ids(settings)
        params = common.positional_params(settings)
        common.check_bodies(settings, templates, partial(_check_body, params))
        fields = {
            "SmsSdkAppId": common.identifier("sdk_app_id", settings.get("sdk_app_id")),
            "SignName": common.signature_setting(settings, "sign_name"),
            "SenderId": optional(settings, "sender_id"),
        }
        client = _client(settings, context.send_timeout)
        token = callback_token(settings)
        return cls(name, channels, client, fields, templates, params, token)

    def send(self, message: Message) -> SendResult:
        """Send one templated SMS; a per-number status other than Ok becomes ProviderError."""
        template = common.template_for(KIND, self._templates, message)
        status = _status(self._call(message, template))
        code = str(status.get("Code") or "")
        if code != "Ok":  # sic: Tencent's success code is "Ok", not "OK"
            raise _failure(code, status.get("Message"))
        return SendResult(message_id=str(status.get("SerialNo") or ""))

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the token in the callback URL and read the pushed array of status reports."""
        check_url_token(request.url, self._callback_token, KIND)
        reports = json_reports(request.body, KIND)
        return [_receipt(report) for report in reports if report.get("sid")]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """The answer Tencent Cloud takes as received."""
        return PUSH_ANSWER

    def _call(self, message: Message, template: str) -> bytes:
        """SendSms's answer body; SDK exceptions become ProviderError.

        The SDK's generic call is used rather than its SendSms model, which drops a
        request-level error served with any Content-Type but exactly "application/json"
        (such as "application/json; charset=utf-8"): the body is read here instead."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        values = common.param_values(message)
        params = {
            "PhoneNumberSet": [message.to],
            "TemplateId": template,
            "TemplateParamSet": [values[name] for name in self._params],
            "SmsSdkAppId": self._fields["SmsSdkAppId"],
            "SignName": self._fields["SignName"],
            "SenderId": message.sender or self._fields["SenderId"],
        }
        try:
            body: bytes = self._client.call("SendSms", {k: v for k, v in params.items() if v})
        except TencentCloudSDKException as exc:
            raise _sdk_failure(exc) from exc
        except (ValueError, KeyError) as exc:  # an "application/json" body it could not read
            raise common.failure(KIND, T, None, "unreadable response") from exc
        return body


def _status(body: bytes) -> dict[str, Any]:
    """The SendStatus of our one number, or the ProviderError of a request-level error."""
    response = json_object(body).get("Response")
    response = response if isinstance(response, dict) else {}
    error = response.get("Error")
    if isinstance(error, dict):
        raise _failure(str(error.get("Code") or ""), error.get("Message"))
    statuses = response.get("SendStatusSet")
    if not isinstance(statuses, list) or not statuses or not isinstance(statuses[0], dict):
        raise common.failure(KIND, T, None, "no send status in the response")
    return statuses[0]


def _check_body(params: tuple[str, ...], body: str) -> None:
    """An approved body must have {1}, {2}, ... for exactly the parameters we send."""
    check_positional_template(body)
    common.check_count(len(set(positional_placeholders(body))), params)


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


def _sdk_failure(exc: Any) -> ProviderError:
    """Map a TencentCloudSDKException by its code."""
    code = str(exc.get_code() or "")
    # A network error's text repeats the request URL; only the code is worth keeping.
    detail = "network error" if code == "ClientNetworkError" else exc.get_message()
    return _failure(code, detail)


def _failure(code: str, detail: object) -> ProviderError:
    """The ProviderError for a Tencent error code, by its class; unknown codes are ROUTE."""
    failure_class = common.classify(code, ERROR_CODES, ERROR_PREFIXES) or R
    retry_after = _throttle_seconds(code) if failure_class is RT else None
    return common.failure(KIND, failure_class, code or None, detail, retry_after)


def _throttle_seconds(code: str, now: float | None = None) -> int:
    """Seconds until the per-number window named by `code` lets this recipient through."""
    if code in DAILY_THROTTLES:
        local = int(time.time() if now is None else now) + CHINA_UTC_OFFSET
        return 86400 - local % 86400
    return THROTTLE_SECONDS.get(code, THROTTLE_DEFAULT_SECONDS)
