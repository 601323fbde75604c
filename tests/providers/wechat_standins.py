"""Local stand-ins of the WeCom and Official Account APIs, checking requests as WeChat does.

Each one issues access tokens that expire (or that the test revokes), refuses calls without a
valid `access_token` query parameter with WeChat's token errors, and checks the JSON body of
every call (the agent id, the member, the template id and its fields, the follower).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "corp-secret-0123456789"
AGENT_ID = 1000002
APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-0123456789"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
TEMPLATE_ID = "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY"
TEMPLATE_FIELDS = frozenset({"character_string1", "number2", "thing3"})


def reply(body: dict[str, Any]) -> Response:
    """WeChat answers HTTP 200 with a JSON body, errors included."""
    return Response(json.dumps(body), status=200, content_type="application/json")


def error(code: int, message: str) -> Response:
    return reply({"errcode": code, "errmsg": f"{message} rid: 6385c6c1-0fcadca1-22c1fc91"})


def json_body(request: Request) -> dict[str, Any]:
    assert request.mimetype == "application/json", request.mimetype
    body: dict[str, Any] = json.loads(request.data)
    return body


@dataclass
class Tokens:
    """Access tokens as WeChat keeps them: each valid for `lifetime` seconds once issued."""

    prefix: str
    lifetime: int = 7200
    issued: dict[str, float] = field(default_factory=dict)
    fetches: int = 0
    refusals: int = 0

    def issue(self, **extra: object) -> Response:
        self.fetches += 1
        token = f"{self.prefix}-{self.fetches}"
        self.issued[token] = time.monotonic() + self.lifetime
        return reply({**extra, "access_token": token, "expires_in": self.lifetime})

    def current(self) -> str | None:
        """The newest token while it is valid (what the stable token endpoint hands out)."""
        valid = [t for t, until in self.issued.items() if until > time.monotonic()]
        return valid[-1] if valid else None

    def refusal(self, request: Request, invalid: int) -> Response | None:
        """WeChat's answer to a missing, unknown or expired `access_token`, or None."""
        token = request.args.get("access_token", "")
        if token in self.issued and self.issued[token] > time.monotonic():
            return None
        self.refusals += 1
        if token not in self.issued:
            return error(invalid, "invalid access_token")
        return error(42001, "access_token expired")

    def expire_all(self) -> None:
        """Every token issued so far stops working, as after its two hours."""
        self.issued = dict.fromkeys(self.issued, 0.0)


@dataclass
class WecomStandIn:
    """qyapi.weixin.qq.com: gettoken, user/getuserid and message/send of one corp's app."""

    server: HTTPServer
    members: dict[str, str]  # mobile as the directory holds it -> userid
    tokens: Tokens = field(default_factory=lambda: Tokens("wecom-token"))
    lookups: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        expect = self.server.expect_request
        expect("/cgi-bin/gettoken", method="GET").respond_with_handler(self.gettoken)
        expect("/cgi-bin/user/getuserid", method="POST").respond_with_handler(self._getuserid)
        expect("/cgi-bin/message/send", method="POST").respond_with_handler(self._send)

    def gettoken(self, request: Request) -> Response:
        if request.args.get("corpid") != CORP_ID:
            return error(40013, "invalid corpid")
        if request.args.get("corpsecret") != CORP_SECRET:
            return error(40001, "invalid credential")
        return self.tokens.issue(errcode=0, errmsg="ok")

    def _getuserid(self, request: Request) -> Response:
        refusal = self.tokens.refusal(request, 40014)
        if refusal is not None:
            return refusal
        mobile = json_body(request).get("mobile")
        self.lookups.append(str(mobile))
        if mobile not in self.members:
            return error(46004, "user no exist")
        return reply({"errcode": 0, "errmsg": "ok", "userid": self.members[mobile]})

    def _send(self, request: Request) -> Response:
        refusal = self.tokens.refusal(request, 40014)
        if refusal is not None:
            return refusal
        body = json_body(request)
        if body.get("agentid") != AGENT_ID:
            return error(40056, "invalid agentid")
        if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return error(44004, "empty content")
        if body.get("touser") not in self.members.values():
            return error(81013, "user & party & tag all invalid")
        self.sent.append(body)
        msgid = f"m{len(self.sent)}"
        return reply({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": msgid})


@dataclass
class MpStandIn:
    """api.weixin.qq.com: stable_token and message/template/send of one Official Account."""

    server: HTTPServer
    followers: set[str] = field(default_factory=lambda: {OPENID})
    former_followers: set[str] = field(default_factory=set)
    tokens: Tokens = field(default_factory=lambda: Tokens("mp-token"))
    sent: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        expect = self.server.expect_request
        expect("/cgi-bin/stable_token", method="POST").respond_with_handler(self._stable_token)
        send = expect("/cgi-bin/message/template/send", method="POST")
        send.respond_with_handler(self._send)

    def _stable_token(self, request: Request) -> Response:
        body = json_body(request)
        if body.get("grant_type") != "client_credential":
            return error(40002, "invalid grant_type")
        if body.get("appid") != APP_ID:
            return error(40013, "invalid appid")
        if body.get("secret") != APP_SECRET:
            return error(40125, "invalid appsecret")
        current = None if body.get("force_refresh") else self.tokens.current()
        if current is None:
            return self.tokens.issue()
        left = round(self.tokens.issued[current] - time.monotonic())
        return reply({"access_token": current, "expires_in": left})

    def _send(self, request: Request) -> Response:
        refusal = self.tokens.refusal(request, 40001)
        if refusal is not None:
            return refusal
        body = json_body(request)
        openid = body.get("touser")
        if openid in self.former_followers:
            return error(43004, "require subscribe")
        if openid not in self.followers:
            return error(40003, f"invalid openid hint: [{openid}]")
        if body.get("template_id") != TEMPLATE_ID:
            return error(40037, "invalid template_id")
        data = body.get("data", {})
        if set(data) != TEMPLATE_FIELDS or not all(v.get("value") for v in data.values()):
            return error(47003, "argument invalid! data.thing3.value invalid")
        self.sent.append(body)
        return reply({"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(self.sent)})
