"""WechatMpProvider against a local stand-in of api.weixin.qq.com, with its token in real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer

from app.delivery.providers.base import FailureClass, Message, ProviderContext
from app.delivery.providers.wechat_mp import WechatMpProvider

from .standins import CONTEXT, config_error_key, expect_failure, stalled, template_message
from .wechat_standins import APP_ID, APP_SECRET, OPENID, TEMPLATE_ID, MpStandIn, error, reply

FIELDS = {"code": "character_string1", "minutes": "number2", "app": "thing3"}


def settings(httpserver: HTTPServer, **extra: Any) -> dict[str, Any]:
    base = {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "templates": {"login": TEMPLATE_ID},
        "template_fields": FIELDS,
        "app_name": "Acme",
    }
    return {**base, "base_url": httpserver.url_for("/"), **extra}


def provider(
    httpserver: HTTPServer, client: redis.Redis, timeout: float = 2.0, **extra: Any
) -> WechatMpProvider:
    configured = settings(httpserver, **extra)
    context = ProviderContext(send_timeout=timeout, redis=client)
    return WechatMpProvider.from_settings("mp", frozenset({"wechat"}), configured, context)


def follower_message(**fields: Any) -> Message:
    return template_message(**{"channel": "wechat", "to": OPENID, **fields})


@pytest.fixture
def mp(httpserver: HTTPServer) -> MpStandIn:
    return MpStandIn(httpserver)


def test_a_follower_gets_the_template_filled_as_mapped(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    result = provider(httpserver, redis_client).send(follower_message())
    assert result.message_id == "200228333"
    assert mp.sent == [
        {
            "touser": OPENID,
            "template_id": TEMPLATE_ID,
            "data": {
                "character_string1": {"value": "493817"},
                "number2": {"value": "5"},
                "thing3": {"value": "Acme"},
            },
        }
    ]
    assert mp.tokens.fetches == 1
    assert redis_client.get(f"otp:{{wechat_mp:{APP_ID}}}:token") == b"mp-token-1"


def test_an_expired_token_is_refreshed_through_the_stable_token_endpoint(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    adapter = provider(httpserver, redis_client)
    adapter.send(follower_message())
    mp.tokens.expire_all()
    adapter.send(follower_message())
    assert (mp.tokens.fetches, mp.tokens.refusals, len(mp.sent)) == (2, 1, 2)


def test_a_purpose_without_a_template_is_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    raised = expect_failure(provider(httpserver, redis_client), follower_message(purpose="signup"))
    assert raised.failure is FailureClass.ROUTE
    assert httpserver.log == []


def test_a_phone_number_is_no_official_account_destination(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    phone = follower_message(to="+8613800138000")
    raised = expect_failure(provider(httpserver, redis_client), phone)
    assert raised.failure is FailureClass.ROUTE
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("openid", "code"),
    [
        ("oGone0000followerLeft_xyz123", "43004"),  # unfollowed: an opt-out
        ("oNever00000aFollower_xyz1234", "40003"),  # not a user of this account
    ],
)
def test_the_recipients_own_refusals_are_permanent(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn, openid: str, code: str
) -> None:
    mp.former_followers.add("oGone0000followerLeft_xyz123")
    raised = expect_failure(provider(httpserver, redis_client), follower_message(to=openid))
    assert (raised.failure, raised.provider_code) == (FailureClass.PERMANENT, code)
    assert openid not in raised.message  # the stand-in echoes it, as WeChat's hints can


def test_a_template_the_account_does_not_have_is_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    adapter = provider(httpserver, redis_client, templates={"login": "tmpl-of-another-account"})
    raised = expect_failure(adapter, follower_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "40037")


def test_fields_that_do_not_fit_the_template_are_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    partial = {"code": "character_string1", "minutes": "number2"}
    adapter = provider(httpserver, redis_client, template_fields=partial)
    raised = expect_failure(adapter, follower_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "47003")


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (-1, FailureClass.TRANSIENT),
        (45009, FailureClass.TRANSIENT),
        (40164, FailureClass.ROUTE),
        (48001, FailureClass.ROUTE),
    ],
)
def test_error_codes_are_classified(
    httpserver: HTTPServer,
    redis_client: redis.Redis,
    mp: MpStandIn,
    code: int,
    failure: FailureClass,
) -> None:
    answer = error(code, "api failed, hint: [Ge03452318]")
    path = "/cgi-bin/message/template/send"
    httpserver.expect_oneshot_request(path).respond_with_response(answer)
    raised = expect_failure(provider(httpserver, redis_client), follower_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (failure, str(code))


def test_a_wrong_secret_is_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    adapter = provider(httpserver, redis_client, app_secret="not-the-secret")
    raised = expect_failure(adapter, follower_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "40125")
    assert mp.sent == []


def test_timeout_is_transient(
    httpserver: HTTPServer, redis_client: redis.Redis, mp: MpStandIn
) -> None:
    late = reply({"errcode": 0, "errmsg": "ok", "msgid": 1})
    with stalled(httpserver, "/cgi-bin/message/template/send", late) as stall:
        raised = expect_failure(provider(httpserver, redis_client, 0.2), follower_message())
    assert raised.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_secret": None}, "app_secret"),
        ({"templates": {}}, "templates"),
        ({"template_fields": {"minutes": "number2"}}, "template_fields"),
        ({"template_fields": {"code": "character_string1", "name": "thing3"}}, "template_fields"),
        ({"template_fields": {"code": ""}}, "template_fields.code"),
        ({"app_name": ""}, "app_name"),
        ({"base_url": "qyapi.example.com"}, "base_url"),
    ],
)
def test_bad_settings_name_the_key(
    httpserver: HTTPServer, redis_client: redis.Redis, change: dict[str, Any], key: str
) -> None:
    changed, wechat = {**settings(httpserver), **change}, frozenset({"wechat"})
    with_redis = ProviderContext(redis=redis_client)
    build = WechatMpProvider.from_settings
    assert config_error_key(build, "mp", wechat, changed, with_redis) == key


def test_the_service_redis_client_is_needed(httpserver: HTTPServer) -> None:
    build, configured = WechatMpProvider.from_settings, settings(httpserver)
    assert config_error_key(build, "mp", frozenset({"wechat"}), configured, CONTEXT) == "type"
