"""Huawei Cloud Message & SMS: the form-encoded single-send REST API and its status reports."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.request
from collections.abc import Mapping
from functools import partial
from http.client import HTTPException
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlencode, urlunsplit

from app.delivery.sms_text import check_variable_template

from . import _template_sms as common
from ._common import (
    callback_token,
    check_url_token,
    failure_for_status,
    http_url,
    json_object,
    optional,
    post,
    require,
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

KIND = "huawei"
SEND_PATH = "/sms/batchSendSms/v1"
SUCCESS = "000000"
PARTIAL_FAILURE = "E000510"  # HTTP 200; the real outcome is each recipient's status

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
RT = FailureClass.RECIPIENT_THROTTLED
# Response `code`s and per-recipient `status`es from Huawei's "API Error Codes" page.
# E0000xx-E0001xx (WSSE header, app_key/app_secret, frozen account) and E0006xx (IP allow
# list, account limits) are configuration of this account: ROUTE, another provider may work.
# Most bad-number outcomes (UNDELIV, MK:xxxx, ...) only arrive later in status reports.
ERROR_CODES: dict[str, FailureClass] = {
    "E000000": T,  # system error
    "E000101": R,  # authentication failed
    "E000102": R,  # invalid app_key
    "E000103": R,  # app_key unavailable
    "E000104": R,  # app_secret error
    "E000111": R,  # no user for this app_key
    "E000112": R,  # account frozen (arrears or violation)
    "E000503": R,  # parameter format error (template variables, template id)
    "E000620": R,  # our IP is not in the application's allow list
    "E000623": R,  # account-level sending limit
    "E000632": P,  # the number is on the account's country blacklist (mostly in reports)
    "E200018": R,  # `from` is not a channel of this application
    "E200024": R,  # international SMS not enabled
    "E200025": R,  # recipient not supported by the international channel
    "E200026": R,  # no international channel for the recipient
    "E200027": R,  # no gateway route configured
    "E200028": R,  # template variables do not match the template
    "E200029": R,  # template type mismatch
    "E200030": R,  # template not activated
    "E200032": R,  # template required
    "E200033": R,  # template type incorrect
    # Mainland anti-flood limits for one number (15 a minute, 50 a day; the same text twice
    # in 59 s, five times in 59 min), mostly reported in status reports.
    "MILIMIT": RT,  # the number reached its per-minute limit
    "LIMIT": RT,  # the number reached a sending limit
}
# Seconds until a throttled number may be sent to again, where the code says.
THROTTLE_SECONDS = {"MILIMIT": 60}
THROTTLE_DEFAULT_SECONDS = 60
# E2000xx: Huawei platform checks of template, channel and route.
ERROR_PREFIXES: dict[str, FailureClass] = {"E0000": R, "E0001": R, "E0006": R, "E2000": R}

# Status-report values; DELIVRD is the only success, ACCEPTD an interim state.
DELIVERED = "DELIVRD"
INTERIM = "ACCEPTD"
UNDELIVERED = frozenset({"UNDELIV", "EXPIRED", "DELETED", "UNKNOWN"})


class HuaweiProvider:
    """Sends template SMS through Huawei Cloud with X-WSSE auth; parses its status reports."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = common.SMS_ONLY

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        url: str,
        credentials: tuple[str, str],
        fields: dict[str, str | None],
        templates: dict[str, str],
        params: tuple[str, ...],
        callback_token: str | None,
        timeout: float,
    ) -> None:
        self.name = name
        self.channels = channels
        self._url = url
        self._app_key, self._app_secret = credentials
        self._fields = fields
        self._templates = templates
        self._params = params
        self._callback_token = callback_token
        self._timeout = timeout

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings; status reports are only requested with a callback_token."""
        endpoint = common.http_endpoint(settings, None)
        if endpoint is None:
            raise ConfigError(
                "endpoint", "required: the application's access address (https://...)"
            )
        credentials = (require(settings, "app_key"), require(settings, "app_secret"))
        token = callback_token(settings)
        fields = {
            "from": require(settings, "sender"),
            "signature": optional(settings, "signature"),
            "statusCallback": _callback_url(settings, token),
        }
        scheme, host = endpoint
        url = f"{scheme}://{host}{SEND_PATH}"
        templates = common.template_ids(settings)
        params = common.positional_params(settings)
        common.check_bodies(settings, templates, partial(_check_body, params))
        timeout = context.send_timeout
        return cls(name, channels, url, credentials, fields, templates, params, token, timeout)

    def send(self, message: Message) -> SendResult:
        """Send one templated SMS; the recipient's own status decides success."""
        template = common.template_for(KIND, self._templates, message)
        values = common.param_values(message)
        form = {
            **self._fields,
            "from": message.sender or self._fields["from"],
            "to": message.to,
            "templateId": template,
            "templateParas": json.dumps([values[name] for name in self._params]),
        }
        status, payload = self._post({k: v for k, v in form.items() if v is not None})
        return _result(status, payload)

    def parse_receipts(self, request: CallbackRequest) -> list[Receipt]:
        """Check the token we put in statusCallback and read the one report of the request."""
        check_url_token(request.url, self._callback_token, KIND)
        message_id, status = request.form.get("smsMsgId"), request.form.get("status")
        if not message_id or not status or status == INTERIM:
            return []
        failure = ERROR_CODES.get(status)
        return [Receipt(message_id, _receipt_status(status), status, failure)]

    def callback_answer(self, accepted: int) -> CallbackAnswer:
        """Huawei asks for 200 OK with an empty body."""
        return CallbackAnswer("", content_type="text/plain")

    def _post(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST the form; (HTTP status, JSON body). Transport failures become ProviderError."""
        request = urllib.request.Request(  # noqa: S310 - from_settings allows only http(s)
            self._url,
            data=urlencode(form).encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": 'WSSE realm="SDP",profile="UsernameToken",type="Appkey"',
                "X-WSSE": _wsse_header(self._app_key, self._app_secret),
            },
        )
        try:
            status, body = post(request, self._timeout)
        except (OSError, HTTPException) as exc:  # URLError, timeouts and resets are OSErrors
            raise common.failure(KIND, T, None, f"transport error ({type(exc).__name__})") from exc
        return status, json_object(body)


def _check_body(params: tuple[str, ...], body: str) -> None:
    """An approved body must have one variable (${1}, ${NUM_6}, ...) per parameter we send."""
    common.check_count(check_variable_template(body), params)


def _wsse_header(app_key: str, app_secret: str) -> str:
    """X-WSSE UsernameToken as Huawei's demos build it: base64 of the hex SHA-256 digest."""
    nonce = secrets.token_hex(16)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    digest = hashlib.sha256(f"{nonce}{created}{app_secret}".encode()).hexdigest()
    password = base64.b64encode(digest.encode()).decode()
    return (
        f'UsernameToken Username="{app_key}",PasswordDigest="{password}",'
        f'Nonce="{nonce}",Created="{created}"'
    )


def _callback_url(settings: Mapping[str, Any], token: str | None) -> str | None:
    """`status_callback` with `?token=` appended; a callback without a token is refused."""
    url = optional(settings, "status_callback")
    if url is None:
        return None
    parts = http_url("status_callback", url)
    if token is None:
        raise ConfigError("callback_token", "required with status_callback")
    query = urlencode([*parse_qsl(parts.query), ("token", token)])
    return urlunsplit(parts._replace(query=query))


def _result(http_status: int, payload: dict[str, Any]) -> SendResult:
    """The SendResult for our single recipient, or the ProviderError its code maps to."""
    recipient = _first_recipient(payload)
    code = str(recipient.get("status") or payload.get("code") or "")
    if code == SUCCESS and recipient.get("smsMsgId"):
        return SendResult(message_id=str(recipient["smsMsgId"]))
    failure_class = common.classify(code, ERROR_CODES, ERROR_PREFIXES)
    failure_class = failure_class or failure_for_status(http_status, otherwise=T)
    seconds = THROTTLE_SECONDS.get(code, THROTTLE_DEFAULT_SECONDS)
    retry_after = seconds if failure_class is RT else None
    detail = payload.get("description", http_status)
    raise common.failure(KIND, failure_class, code or None, detail, retry_after)


def _first_recipient(payload: dict[str, Any]) -> dict[str, Any]:
    """The `result` entry of our single recipient, or {} when there is none."""
    results = payload.get("result")
    if isinstance(results, list) and results and isinstance(results[0], dict):
        return results[0]
    return {}


def _receipt_status(status: str) -> str:
    """Normalise a Huawei report status to delivered / undelivered / failed."""
    if status == DELIVERED:
        return "delivered"
    # Anything else (REJECTD, platform E-codes, operator codes) never reached the handset.
    return "undelivered" if status in UNDELIVERED else "failed"
