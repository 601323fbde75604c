"""Provider adapters, imported lazily by type so an unused SDK need not be installed."""

from __future__ import annotations

import importlib
from typing import Any

from .base import ConfigError

PROVIDER_TYPES: dict[str, str] = {
    "console": "app.delivery.providers.console:ConsoleProvider",
    "twilio": "app.delivery.providers.twilio:TwilioProvider",
    "sns": "app.delivery.providers.sns:SnsProvider",
    "aliyun": "app.delivery.providers.aliyun:AliyunProvider",
    "tencent": "app.delivery.providers.tencent:TencentProvider",
    "huawei": "app.delivery.providers.huawei:HuaweiProvider",
    "http": "app.delivery.providers.http:HttpProvider",
    "smtp": "app.delivery.providers.smtp:SmtpProvider",
    "cams": "app.delivery.providers.cams:CamsProvider",
    "tencent_voice": "app.delivery.providers.tencent_voice:TencentVoiceProvider",
    "cmsi": "app.delivery.providers.cmsi:CmsiProvider",
    "wecom": "app.delivery.providers.wecom:WecomProvider",
    "wechat_mp": "app.delivery.providers.wechat_mp:WechatMpProvider",
}


def provider_class(kind: str) -> Any:
    """The adapter class for a provider type, importing its module on first use."""
    try:
        target = PROVIDER_TYPES[kind]
    except KeyError:
        raise ConfigError("type", f"unknown provider type {kind!r}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
