"""Small pieces shared by the twilio, sns, smtp and http adapters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import ConfigError, FailureClass

# A phone number or a one-time code inside a provider's error text must never reach the logs.
_DIGIT_RUN = re.compile(r"\+?\d[\d ().-]{2,}\d")


def require(settings: Mapping[str, Any], key: str) -> str:
    """A mandatory non-empty string setting."""
    value = optional(settings, key)
    if value is None:
        raise ConfigError(key, "is required")
    return value


def optional(settings: Mapping[str, Any], key: str) -> str | None:
    """An optional string setting; empty counts as absent."""
    value = settings.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    return value


def check_channels(channels: frozenset[str], supported: frozenset[str]) -> None:
    """Refuse a channel the provider cannot serve."""
    unsupported = sorted(channels - supported)
    if unsupported:
        raise ConfigError("channels", f"cannot serve {', '.join(unsupported)}")


def missing_extra(extra: str) -> ConfigError:
    """The error for a provider whose SDK is not installed."""
    return ConfigError("type", f"install the '{extra}' extra: pip install otp-service[{extra}]")


def failure_for_status(status: int | None) -> FailureClass:
    """Class of an HTTP failure no provider code explains: overload is transient, the rest is
    a request this provider will keep refusing, so another provider should try."""
    if status is not None and (status == 429 or status >= 500):
        return FailureClass.TRANSIENT
    return FailureClass.ROUTE


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header looked up without regard to case; empty when absent."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def redact(text: str) -> str:
    """Provider error text with digit runs (numbers, codes) masked."""
    return _DIGIT_RUN.sub("***", text)
