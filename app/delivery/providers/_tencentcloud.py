"""Pieces shared by the Tencent Cloud adapters (SMS, voice): SDK client set-up and errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _template_sms as common
from ._common import missing_extra, optional, require
from .base import FailureClass, ProviderError

DEFAULT_REGION = "ap-guangzhou"

T, R = FailureClass.TRANSIENT, FailureClass.ROUTE
# Codes every Tencent Cloud API and the SDK itself may give, whatever the product.
SDK_CODES: dict[str, FailureClass] = {
    "ClientNetworkError": T,  # the SDK's name for timeouts and connection errors
    "ServerNetworkError": T,  # the SDK's name for a non-200 HTTP status
    "JSONDecodeError": T,  # ... and these two for a 200 body it could not read
    "KeyError": T,
    "RequestLimitExceeded": T,
}
SDK_PREFIXES: dict[str, FailureClass] = {
    "InternalError": T,
    "AuthFailure": R,  # secret id or key, signature, clock: this account's configuration
    "UnauthorizedOperation": R,
    "UnsupportedOperation": R,
}


def client_arguments(settings: Mapping[str, Any], timeout: float, extra: str) -> tuple[Any, ...]:
    """(credential, region, profile) for an SDK client: the request timeout and, when set,
    the `endpoint` override (a private deployment or a stand-in)."""
    try:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
    except ImportError:
        raise missing_extra(extra) from None
    credential = Credential(require(settings, "secret_id"), require(settings, "secret_key"))
    scheme, host = common.http_endpoint(settings, None) or ("https", None)
    http = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=timeout)
    region = optional(settings, "region") or DEFAULT_REGION
    return credential, region, ClientProfile(httpProfile=http, language="en-US")


def sdk_failure(
    kind: str,
    exc: Any,
    codes: Mapping[str, FailureClass],
    prefixes: Mapping[str, FailureClass],
) -> ProviderError:
    """Map a TencentCloudSDKException by its code; an unknown code is ROUTE."""
    code = str(exc.get_code() or "")
    failure_class = common.classify(code, codes, prefixes) or R
    # A network error's text repeats the request URL; only the code is worth keeping.
    detail = "network error" if code == "ClientNetworkError" else exc.get_message()
    return common.failure(kind, failure_class, code or None, detail)
