"""WeCom (Enterprise WeChat): a text message from the tenant's app to the member with the phone.

Three documented calls: `gettoken` (corp id and the app's secret; the token is shared by every
worker, see _token.py), `user/getuserid` (the member with this mobile) and `message/send` (a
text message from the app, `agentid`, to that member). A phone that is no member of the corp is
a ROUTE failure: the plan moves on, e.g. to SMS through `channel_fallbacks: {wechat: sms}`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import phonenumbers

from app import keys

from . import _wechat as wechat
from ._common import require
from ._template_sms import failure, identifier
from ._token import SharedToken, cache_errors
from .base import ConfigError, FailureClass, Message, ProviderContext, SendResult

KIND = "wecom"
DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
CHANNELS = frozenset({"wechat"})
# getuserid blocks a corp for a day once its failed look-ups pass 20% of its member limit, so
# a phone found to be no member is not looked up again for this long.
NON_MEMBER_SECONDS = 3600
STALE_TOKEN = frozenset({"40014", "42001"})  # invalid, expired access token: refresh once

T, R, U = FailureClass.TRANSIENT, FailureClass.ROUTE, FailureClass.UNREACHABLE
# WeCom's global error codes (developer.work.weixin.qq.com/document/path/90313). A phone that
# is no member can still take an SMS, so nothing stops the plan: a recipient this corp cannot
# reach is UNREACHABLE (no count against the provider's health), the rest ROUTE.
ERROR_CODES: dict[str, FailureClass] = {
    "-1": T,  # system busy
    "45009": T,  # API call frequency limit
    "45033": T,  # API concurrency limit
    "40001": R,  # invalid corp secret
    "40013": R,  # invalid corp id
    "40014": R,  # invalid access token (after one refresh)
    "42001": R,  # access token expired (after one refresh)
    "40056": R,  # invalid agent id
    "48002": R,  # API not permitted to this app
    "50002": R,  # member outside the app's visible range
    "50003": R,  # app disabled
    "60020": R,  # this server's IP is not among the app's trusted IPs
    "40003": U,  # invalid user id
    "46004": U,  # no such member (getuserid: no member has this mobile)
    "60103": U,  # mobile number refused
    "60111": U,  # user id not in the directory
    "81013": U,  # user, party and tag all invalid
    "82001": U,  # every recipient invalid
    "44004": R,  # empty text
    "45002": R,  # text too long
}
NON_MEMBER = frozenset({"46004", "60103", "60111"})
FLAVOUR = wechat.Flavour(KIND, DEFAULT_BASE_URL, ERROR_CODES, STALE_TOKEN)


class WecomProvider:
    """Sends the code as a WeCom text message to the member found by phone number."""

    kind: ClassVar[str] = KIND
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(
        self,
        name: str,
        channels: frozenset[str],
        account: wechat.Account,
        agent_id: int,
    ) -> None:
        self.name = name
        self.channels = channels
        self._account = account
        self._agent_id = agent_id
        self._non_members = _NonMembers(account.token)

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate corp_id, corp_secret, agent_id and the optional base_url."""
        corp_id, secret = require(settings, "corp_id"), require(settings, "corp_secret")
        agent_id = identifier("agent_id", settings.get("agent_id"))
        if not agent_id.isdigit():
            raise ConfigError("agent_id", "must be the app's numeric AgentId")
        credentials = {"corpid": corp_id, "corpsecret": secret}
        account = wechat.account(
            FLAVOUR,
            settings,
            context.send_timeout,
            context.redis,
            f"wecom:{corp_id}:{agent_id}",
            lambda api: api.get("/cgi-bin/gettoken", credentials),
        )
        return cls(name, channels, account, int(agent_id))

    def send(self, message: Message) -> SendResult:
        """Look the member up by phone, then send the message text from the app."""
        member = self._member(_mobile(message.to))
        body = {
            "touser": member,
            "msgtype": "text",
            "agentid": self._agent_id,
            "text": {"content": message.text},
        }
        answer = self._account.post("/cgi-bin/message/send", body)
        wechat.check(KIND, answer, ERROR_CODES)
        if member in _listed(answer, "invaliduser") or member in _listed(answer, "unlicenseduser"):
            raise failure(KIND, U, "invaliduser", "the member cannot receive this app's messages")
        return SendResult(message_id=wechat.message_id(KIND, answer))

    def _member(self, mobile: str) -> str:
        """The member's user id; ROUTE when no member has this mobile."""
        if self._non_members.known(mobile):
            raise failure(KIND, U, "46004", "no member has this mobile (remembered)")
        answer = self._account.post("/cgi-bin/user/getuserid", {"mobile": mobile})
        if wechat.errcode(answer) in NON_MEMBER:
            self._non_members.remember(mobile)
        member = wechat.check(KIND, answer, ERROR_CODES).get("userid")
        if not isinstance(member, str) or not member:
            raise failure(KIND, T, None, "getuserid answered without a userid")
        return member


class _NonMembers:
    """Phones lately found to be no member, remembered in Redis for every worker (by a digest,
    under the account's hash tag)."""

    def __init__(self, token: SharedToken) -> None:
        self._scope = token.scope
        self._client = token.client

    def known(self, mobile: str) -> bool:
        with cache_errors(KIND):
            return bool(self._client.exists(self._key(mobile)))

    def remember(self, mobile: str) -> None:
        with cache_errors(KIND):
            self._client.set(self._key(mobile), "1", ex=NON_MEMBER_SECONDS)

    def _key(self, mobile: str) -> str:
        return keys.key(self._scope, "nm", hashlib.sha256(mobile.encode()).hexdigest()[:32])


def _mobile(to: str) -> str:
    """The mobile as WeCom's directory holds it: bare digits for mainland China (as in the
    getuserid example), "+<country code> <number>" elsewhere (as in the member example)."""
    if not to.startswith("+"):
        raise failure(KIND, R, None, "WeCom finds members by phone number, not by openid")
    number = phonenumbers.parse(to)
    national = phonenumbers.national_significant_number(number)
    return national if number.country_code == 86 else f"+{number.country_code} {national}"


def _listed(answer: wechat.Answer, field: str) -> list[str]:
    """The user ids of a `|`-separated field of the send answer."""
    return str(answer.get(field) or "").split("|")
