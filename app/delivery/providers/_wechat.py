"""What the WeCom and Official Account adapters share: JSON calls, `errcode`s, the token retry.

Both APIs answer HTTP 200 with a JSON body whose `errcode` is 0 on success; an access token
goes in the `access_token` query parameter of every call.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.parse import urlencode

from ._common import failure_for_status, http_url, json_object, optional, post
from ._template_sms import classify, failure
from ._token import SharedToken
from .base import ConfigError, FailureClass

# WeChat's own documented lifetime, for an answer that leaves `expires_in` out.
DEFAULT_LIFETIME = 7200

Answer = dict[str, Any]


@dataclass(frozen=True)
class Flavour:
    """What sets one WeChat API apart from the other."""

    kind: str  # the provider type, as errors name it
    default_base: str
    codes: Mapping[str, FailureClass]  # errcode -> failure class
    stale: frozenset[str]  # the errcodes of an expired or invalid access token


def base_url(settings: Mapping[str, Any], default: str) -> str:
    """`base_url`: the API's address, overridden for private deployments and stand-ins."""
    url = optional(settings, "base_url") or default
    http_url("base_url", url)
    return url.rstrip("/")


class Api:
    """JSON calls to one WeChat API host with the adapter's timeout; transport and HTTP
    failures become ProviderErrors, `errcode`s are left to the caller."""

    def __init__(self, kind: str, base: str, timeout: float) -> None:
        self.kind = kind
        self._base = base
        self._timeout = timeout

    def get(self, path: str, query: Mapping[str, str]) -> Answer:
        return self._open(self._request(path, query, None))

    def post(self, path: str, query: Mapping[str, str], body: Mapping[str, Any]) -> Answer:
        return self._open(self._request(path, query, body))

    def _request(
        self, path: str, query: Mapping[str, str], body: Mapping[str, Any] | None
    ) -> urllib.request.Request:
        url = f"{self._base}{path}?{urlencode(query)}" if query else self._base + path
        if body is None:
            return urllib.request.Request(url, method="GET")  # noqa: S310 - http(s) only
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return urllib.request.Request(url, data, headers, method="POST")  # noqa: S310

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            status, body = post(request, self._timeout)
        except (OSError, HTTPException) as exc:  # refused, reset, timed out
            detail = f"transport error ({type(exc).__name__})"
            raise failure(self.kind, FailureClass.TRANSIENT, None, detail) from exc
        if status >= 300:  # WeChat answers 200; anything else is from a proxy on the way
            klass = failure_for_status(status, otherwise=FailureClass.TRANSIENT)
            raise failure(self.kind, klass, str(status), "HTTP error")
        answer = json_object(body)
        if not answer:
            raise failure(self.kind, FailureClass.TRANSIENT, None, "the answer is not JSON")
        return answer


def errcode(answer: Answer) -> str:
    """The answer's error code as text; "0" is success."""
    return str(answer.get("errcode") or 0)


def check(
    kind: str, answer: Answer, codes: Mapping[str, FailureClass], recipient: str = ""
) -> Answer:
    """The answer itself on success, else the ProviderError its `errcode` maps to; a code
    nobody listed is a fault of this account's set-up (ROUTE: another provider may work)."""
    code = errcode(answer)
    if code == "0":
        return answer
    detail = str(answer.get("errmsg", ""))
    if recipient:
        detail = detail.replace(recipient, "***")
    raise failure(kind, classify(code, codes) or FailureClass.ROUTE, code, detail)


def fresh_token(kind: str, answer: Answer, codes: Mapping[str, FailureClass]) -> tuple[str, int]:
    """The access token and lifetime of a token endpoint's answer."""
    check(kind, answer, codes)
    token, lifetime = answer.get("access_token"), answer.get("expires_in")
    if not isinstance(token, str) or not token:
        raise failure(kind, FailureClass.TRANSIENT, None, "token answer without access_token")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    return token, lifetime


def message_id(kind: str, answer: Answer) -> str:
    """The `msgid` of a send's answer, or a generated id when it has none."""
    return str(answer.get("msgid") or f"{kind}-{uuid.uuid4().hex}")


class Account:
    """An API host and the account's shared access token."""

    def __init__(self, api: Api, token: SharedToken, stale: frozenset[str]) -> None:
        self.api = api
        self.token = token
        self._stale = stale  # the errcodes that mean an expired or invalid token

    def post(self, path: str, body: Mapping[str, Any]) -> Answer:
        """POST with the access token, once more with a new token when the API calls it
        expired or invalid; a second refusal is the caller's to classify."""
        used = self.token.get()
        answer = self.api.post(path, {"access_token": used}, body)
        if errcode(answer) in self._stale:
            fresh = self.token.refresh(rejected=used)
            answer = self.api.post(path, {"access_token": fresh}, body)
        return answer


def account(
    flavour: Flavour,
    settings: Mapping[str, Any],
    timeout: float,
    redis: Any,
    scope: str,
    fetch: Callable[[Api], Answer],
) -> Account:
    """The API host of `base_url` and the account's token shared in Redis under `scope`;
    `fetch` asks the API for a new token."""
    if redis is None:
        raise ConfigError("type", f"a {flavour.kind} provider needs the service's Redis client")
    api = Api(flavour.kind, base_url(settings, flavour.default_base), timeout)

    def fresh() -> tuple[str, int]:
        return fresh_token(flavour.kind, fetch(api), flavour.codes)

    return Account(api, SharedToken(redis, flavour.kind, scope, fresh, timeout), flavour.stale)
