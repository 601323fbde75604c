"""WeChat Official Account: the code in a template message to a follower, known by openid.

Two documented calls: `stable_token` (app id and secret; the token is shared by every worker,
see _token.py) and `message/template/send` (the approved template of the purpose, its fields
filled with the code, its lifetime in minutes and the app's name as the settings map them).
The stable token endpoint is used rather than `cgi-bin/token`: its secret travels in the body,
not in a URL, and fetching it does not invalidate the tokens other systems of the same account
hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from . import _wechat as wechat
from ._common import optional, require
from ._template_sms import failure, template_for, template_ids
from .base import ConfigError, FailureClass, Message, ProviderContext, SendResult

KIND = "wechat_mp"
DEFAULT_BASE_URL = "https://api.weixin.qq.com"
CHANNELS = frozenset({"wechat"})
VALUES = ("code", "minutes", "app")  # what a template field can be given
STALE_TOKEN = frozenset({"40001", "40014", "42001"})  # invalid or expired token: refresh once

T, R, P = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.PERMANENT
# Official Account global return codes and the template message's own. The recipient's codes are
# PERMANENT: an openid belongs to this one account, so neither another provider nor SMS can use
# it, and a follower who left must not count against the account's health.
ERROR_CODES: dict[str, FailureClass] = {
    "-1": T,  # system busy
    "45009": T,  # daily API quota reached
    "45011": T,  # API minute quota reached
    "40001": R,  # invalid credential (after one refresh)
    "40014": R,  # invalid access token (after one refresh)
    "42001": R,  # access token expired (after one refresh)
    "40002": R,  # invalid grant type
    "40013": R,  # invalid app id
    "40125": R,  # invalid app secret
    "40164": R,  # this server's IP is not in the account's IP allow list
    "89503": R,  # this server's IP awaits the administrator's confirmation
    "48001": R,  # API not authorised for this account
    "40037": R,  # invalid template id
    "47001": R,  # data format error
    "47003": R,  # a template field's value is invalid (type or length)
    "40003": P,  # invalid openid (not a user of this account)
    "43004": P,  # the user does not follow the account (require subscribe)
    "43019": P,  # the user is on the account's blacklist
}
FLAVOUR = wechat.Flavour(KIND, DEFAULT_BASE_URL, ERROR_CODES, STALE_TOKEN)


class WechatMpProvider:
    """Sends the code as an Official Account template message to an openid."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        account: wechat.Account,
        templates: dict[str, str],
        fields: dict[str, str],
        app_name: str,
    ) -> None:
        self.name = name
        self.channels = channels
        self._account = account
        self._templates = templates
        self._fields = fields
        self._app_name = app_name

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate app_id, app_secret, templates, template_fields, app_name and base_url."""
        app_id, secret = require(settings, "app_id"), require(settings, "app_secret")
        templates, fields = template_ids(settings), _fields(settings)
        app_name = optional(settings, "app_name") or ""
        if "app" in fields and not app_name:
            raise ConfigError("app_name", "required when template_fields maps app")
        body = {"grant_type": "client_credential", "appid": app_id, "secret": secret}
        account = wechat.account(
            FLAVOUR,
            settings,
            context.send_timeout,
            context.redis,
            f"wechat_mp:{app_id}",
            lambda api: api.post("/cgi-bin/stable_token", {}, {**body, "force_refresh": False}),
        )
        return cls(name, channels, account, templates, fields, app_name)

    def send(self, message: Message) -> SendResult:
        """Send the purpose's template message to the openid the request named."""
        if message.to.startswith("+"):
            raise failure(KIND, R, None, "an Official Account reaches its followers by openid")
        body = {
            "touser": message.to,
            "template_id": template_for(KIND, self._templates, message),
            "data": self._data(message),
        }
        answer = self._account.post("/cgi-bin/message/template/send", body)
        wechat.check(KIND, answer, ERROR_CODES, recipient=message.to)
        return SendResult(message_id=wechat.message_id(KIND, answer))

    def _data(self, message: Message) -> dict[str, dict[str, str]]:
        values = {"code": message.code, "minutes": str(message.ttl_minutes), "app": self._app_name}
        return {field: {"value": values[name]} for name, field in self._fields.items()}


def _fields(settings: Mapping[str, Any]) -> dict[str, str]:
    """`template_fields`: which template field gets the code, the minutes and the app name."""
    raw = settings.get("template_fields")
    if not isinstance(raw, Mapping) or "code" not in raw or set(raw) - set(VALUES):
        raise ConfigError(
            "template_fields", "a mapping of code (required), minutes, app -> template field"
        )
    for name, field in raw.items():
        if not isinstance(field, str) or not field.strip():
            raise ConfigError(f"template_fields.{name}", "must name a field of the template")
    return {str(name): str(field) for name, field in raw.items()}
