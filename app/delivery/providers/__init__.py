"""Provider adapters, by the kind the routing file names them with (`type: twilio`).

Importing the adapters is cheap: each one imports its SDK only when it is built or sends.
"""

from __future__ import annotations

from .aliyun import AliyunProvider
from .base import Provider
from .cams import CamsProvider
from .cmsi import CmsiProvider
from .console import ConsoleProvider
from .http import HttpProvider
from .huawei import HuaweiProvider
from .smtp import SmtpProvider
from .sns import SnsProvider
from .tencent import TencentProvider
from .tencent_voice import TencentVoiceProvider
from .twilio import TwilioProvider
from .wechat_mp import WechatMpProvider
from .wecom import WecomProvider

_ADAPTERS: tuple[type[Provider], ...] = (
    ConsoleProvider,
    TwilioProvider,
    SnsProvider,
    AliyunProvider,
    TencentProvider,
    HuaweiProvider,
    HttpProvider,
    SmtpProvider,
    CamsProvider,
    TencentVoiceProvider,
    CmsiProvider,
    WecomProvider,
    WechatMpProvider,
)
ADAPTERS: dict[str, type[Provider]] = {adapter.kind: adapter for adapter in _ADAPTERS}
