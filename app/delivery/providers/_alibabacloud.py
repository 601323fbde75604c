"""Pieces shared by the Alibaba Cloud adapters (SMS, Chat App Message Service): the SDK client
configuration, per-call runtime options, errors, and the answer to status pushes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import _template_sms as common
from ._common import failure_for_status, missing_extra, optional, require
from .base import CallbackAnswer, FailureClass, ProviderError

# Alibaba Cloud's HTTP batch push is taken once answered 200 with a numeric `code`; any other
# answer is pushed again (SmsReport: after 1, 5 and 10 minutes).
PUSH_ANSWER = CallbackAnswer(
    json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False),
    content_type="application/json; charset=utf-8",
)


def client_config(
    settings: Mapping[str, Any], extra: str, default_endpoint: str | None, default_region: str
) -> Any:
    """The SDK's Config: credentials, and `endpoint` (or the one the SDK derives from
    `region`); an endpoint may be a bare host or http(s)://host[:port]."""
    try:
        from alibabacloud_tea_openapi.utils_models import Config
    except ImportError:
        raise missing_extra(extra) from None
    key_id, secret = require(settings, "access_key_id"), require(settings, "access_key_secret")
    region = optional(settings, "region")
    endpoint = common.http_endpoint(settings, None if region else default_endpoint)
    scheme, host = endpoint or ("https", None)
    return Config(
        access_key_id=key_id,
        access_key_secret=secret,
        region_id=region or default_region,
        endpoint=host,
        protocol=scheme,
    )


def runtime(timeout: float) -> Any:
    """Connect and read timeouts for one call, without the SDK's own retries."""
    from darabonba.runtime import RuntimeOptions

    timeout_ms = max(1, int(timeout * 1000))
    return RuntimeOptions(connect_timeout=timeout_ms, read_timeout=timeout_ms, autoretry=False)


def sdk_failure(
    kind: str,
    exc: Exception,
    codes: Mapping[str, FailureClass],
    prefixes: Mapping[str, FailureClass],
) -> ProviderError:
    """Map an SDK exception: HTTP errors by code then status, anything else is transport."""
    from darabonba.exceptions import ResponseException

    if not isinstance(exc, ResponseException):
        # Timeouts, connection errors and unreadable bodies arrive wrapped, their text carrying
        # the request URL with the number and the code in it: keep only what kind they are.
        inner = getattr(exc, "inner_exception", exc)
        what = "timeout" if "timed out" in str(inner) else type(inner).__name__
        return common.failure(kind, FailureClass.TRANSIENT, None, f"transport error ({what})")
    code = str(exc.code or "")
    failure_class = common.classify(code, codes, prefixes)
    failure_class = failure_class or failure_for_status(
        exc.status_code, otherwise=FailureClass.TRANSIENT
    )
    return common.failure(kind, failure_class, code or None, exc.message)
