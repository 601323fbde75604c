"""Alibaba Cloud SMS (dysmsapi 2017-05-25 SendSms) through its official SDK, and its SmsReport
status pushes (HTTP batch push mode)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, Self

from app.delivery.sms_text import check_variable_template, variables

from . import _alibabacloud as alibabacloud
from . import _template_sms as common
from ._common import callback_token, check_url_token, json_reports, missing_extra
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

KIND = "aliyun"
DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
DEFAULT_REGION = "cn-hangzhou"

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
RT = FailureClass.RECIPIENT_THROTTLED
# Body codes (HTTP 200, Code != "OK") and error codes of failed HTTP calls.
# Account, signature, template and content problems are ROUTE: retrying this provider is
# pointless for every message, while another provider may well deliver.
ERROR_CODES: dict[str, FailureClass] = {
    # Per-number flow control (codes: 1 a minute, 5 an hour, 10 a day per number and
    # signature; 40 a day per number on the platform): Alibaba's anti-flood limit for this
    # recipient, which failing over would only sidestep.
    "isv.BUSINESS_LIMIT_CONTROL": RT,
    "isp.SYSTEM_ERROR": T,
    "isv.MOBILE_NUMBER_ILLEGAL": P,
    "isv.AMOUNT_NOT_ENOUGH": R,
    "isv.OUT_OF_SERVICE": R,  # stopped for arrears
    "isv.DAY_LIMIT_CONTROL": R,  # account-wide daily quota set in the console
    "isv.MONTH_LIMIT_CONTROL": R,
    "isv.SMS_SIGNATURE_ILLEGAL": R,
    "isv.SMS_SIGN_ILLEGAL": R,
    "isv.SIGN_STATE_ILLEGAL": R,
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": R,
    "isv.SMS_TEMPLATE_ILLEGAL": R,
    "isv.TEMPLATE_MISSING_PARAMETERS": R,
    "isv.INVALID_JSON_PARAM": R,
    "isv.INVALID_PARAMETERS": R,
    "isv.PARAM_LENGTH_LIMIT": R,
    "isv.SMS_CONTENT_ILLEGAL": R,
    "isv.BLACK_KEY_CONTROL_LIMIT": R,  # a keyword of the content is blacklisted, not the number
    "isv.DENY_IP_RANGE": R,  # our source IP is outside mainland China
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": R,  # international template to a mainland number
    # Too many numbers in one request: impossible with our single number, so it is our request
    # that the provider refuses, not the recipient.
    "isv.MOBILE_COUNT_OVER_LIMIT": R,
    "isv.PRODUCT_UN_SUBSCRIPT": R,
    "isv.ACCOUNT_NOT_EXISTS": R,
    "isv.ACCOUNT_ABNORMAL": R,
    "isp.RAM_PERMISSION_DENY": R,
    "InvalidAccessKeyId.NotFound": R,
    "SignatureDoesNotMatch": R,
}
ERROR_PREFIXES: dict[str, FailureClass] = {
    "Throttling": T,
    "ServiceUnavailable": T,
    "InternalError": T,
}


# The flow-control window a BUSINESS_LIMIT_CONTROL message names ("触发分钟级流控Permits:1",
# "触发小时级流控Permits:5", "触发天级流控Permits:10"), and its length in seconds.
THROTTLE_WINDOWS = (
    ("分钟", 60),
    ("minute", 60),
    ("小时", 3600),
    ("hour", 3600),
    ("天", 86400),
    ("day", 86400),
)
THROTTLE_DEFAULT_SECONDS = 60  # the one-a-minute limit is the one a resend meets first


class AliyunProvider:
    """Sends template SMS through Alibaba Cloud; the template gets the code (and minutes)."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = common.SMS_ONLY

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        client: Any,
        sign_name: str,
        templates: dict[str, str],
        params: dict[str, str],
        timeout: float,
        callback_token: str | None = None,
    ) -> None:
        self.name = name
        self.channels = channels
        self._client = client
        self._sign_name = sign_name
        self._templates = templates
        self._params = params
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
        sign_name = common.signature_setting(settings, "sign_name")
        templates = common.template_ids(settings)
        params = common.named_params(settings)
        common.check_bodies(settings, templates, partial(_check_body, params))
        client = _client(settings)
        token = callback_token(settings)
        timeout = context.send_timeout
        return cls(name, channels, client, sign_name, templates, params, timeout, token)

    def send(self, message: Message) -> SendResult:
        """Send one templated SMS; body codes other than OK become ProviderError."""
        if message.sender:
            # SendSms has no sender field: a tenant's own number cannot be honoured here.
            raise common.failure(KIND, R, None, "cannot send from the tenant's own sender")
        template = common.template_for(KIND, self._templates, message)
        body = self._call(message, template)
        if body.code != "OK":
            raise _failure(body.code or "", body.message, otherwise=R)
        return SendResult(message_id=body.biz_id)

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the token in the receiving URL and read the pushed SmsReport array."""
        check_url_token(request.url, self._callback_token, KIND)
        reports = json_reports(request.body, KIND)
        return [_receipt(report) for report in reports if report.get("biz_id")]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """The answer Alibaba Cloud takes as received."""
        return alibabacloud.PUSH_ANSWER

    def _call(self, message: Message, template: str) -> Any:
        """The SendSms response body; transport and HTTP errors become ProviderError."""
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from Tea.exceptions import TeaException

        values = common.param_values(message)
        request = SendSmsRequest(
            phone_numbers=_phone_number(message.to),
            sign_name=self._sign_name,
            template_code=template,
            template_param=json.dumps({var: values[name] for name, var in self._params.items()}),
        )
        runtime = alibabacloud.runtime(self._timeout)
        try:
            return self._client.send_sms_with_options(request, runtime).body
        except TeaException as exc:
            raise alibabacloud.sdk_failure(KIND, exc, ERROR_CODES, ERROR_PREFIXES) from exc


def _check_body(params: Mapping[str, str], body: str) -> None:
    """An approved body's ${name} variables must be exactly those template_params fills."""
    check_variable_template(body)
    used, given = set(variables(body)), set(params.values())
    if used != given:
        missing, unused = sorted(used - given), sorted(given - used)
        raise ValueError(
            f"the template's variables are {sorted(used)} but template_params fills "
            f"{sorted(given)} (not filled: {missing}, not in the template: {unused})"
        )


def _client(settings: Mapping[str, Any]) -> Any:
    """The SDK client, pointed at `endpoint` (or the one the SDK derives from `region`)."""
    try:
        from alibabacloud_dysmsapi20170525.client import Client
    except ImportError:
        raise missing_extra(KIND) from None
    return Client(alibabacloud.client_config(settings, KIND, DEFAULT_ENDPOINT, DEFAULT_REGION))


def _receipt(report: Mapping[str, Any]) -> Receipt:
    """One SmsReport: `success` says whether the handset got it, `err_code` the carrier's word."""
    delivered = report.get("success") in (True, "true")
    code = str(report.get("err_code") or "") or None
    status = "delivered" if delivered else "undelivered"
    return Receipt(message_id=str(report["biz_id"]), status=status, provider_code=code)


def _phone_number(e164: str) -> str:
    """Alibaba's format: the bare national number in mainland China, else country code + number."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def _failure(code: str, detail: object, otherwise: FailureClass) -> ProviderError:
    """The ProviderError for an Alibaba error code, `otherwise` for a code not listed."""
    failure_class = common.classify(code, ERROR_CODES, ERROR_PREFIXES) or otherwise
    retry_after = _throttle_seconds(str(detail)) if failure_class is RT else None
    return common.failure(KIND, failure_class, code or None, detail, retry_after)


def _throttle_seconds(message: str) -> int:
    """The length of the flow-control window a BUSINESS_LIMIT_CONTROL message names."""
    lowered = message.lower()
    windows = (seconds for word, seconds in THROTTLE_WINDOWS if word in lowered)
    return next(windows, THROTTLE_DEFAULT_SECONDS)
