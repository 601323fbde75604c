"""WecomProvider against a local stand-in of qyapi.weixin.qq.com, with its token in real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug import Response

from app.delivery.providers.base import FailureClass, Message, ProviderContext
from app.delivery.providers.wecom import WecomProvider

from ..conftest import free_port
from .standins import CONTEXT, config_error_key, expect_failure, stalled, template_message
from .wechat_standins import AGENT_ID, CORP_ID, CORP_SECRET, WecomStandIn, error, reply

MEMBER = "+8613800138000"
MEMBERS = {"13800138000": "zhangsan", "+852 61234567": "chan.taiman"}
TEXT = "493817 is your Acme login code. It expires in 5 minutes."


def settings(httpserver: HTTPServer, **extra: Any) -> dict[str, Any]:
    base = {"corp_id": CORP_ID, "corp_secret": CORP_SECRET, "agent_id": AGENT_ID}
    return {**base, "base_url": httpserver.url_for("/"), **extra}


def provider(
    httpserver: HTTPServer, client: redis.Redis, timeout: float = 2.0, **extra: Any
) -> WecomProvider:
    configured = settings(httpserver, **extra)
    context = ProviderContext(send_timeout=timeout, redis=client)
    return WecomProvider.from_settings("wc", frozenset({"wechat"}), configured, context)


def wechat_message(**fields: Any) -> Message:
    return template_message(**{"channel": "wechat", "to": MEMBER, "text": TEXT, **fields})


@pytest.fixture
def wecom(httpserver: HTTPServer) -> WecomStandIn:
    return WecomStandIn(httpserver, dict(MEMBERS))


def test_a_member_gets_the_text_from_the_app(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    result = provider(httpserver, redis_client).send(wechat_message())
    assert result.message_id == "m1"
    assert wecom.lookups == ["13800138000"]  # mainland numbers as bare digits
    assert wecom.sent == [
        {"touser": "zhangsan", "msgtype": "text", "agentid": AGENT_ID, "text": {"content": TEXT}}
    ]


def test_a_number_abroad_is_looked_up_with_its_country_code(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    provider(httpserver, redis_client).send(wechat_message(to="+85261234567"))
    assert wecom.lookups == ["+852 61234567"]
    assert wecom.sent[0]["touser"] == "chan.taiman"


def test_a_non_member_is_a_route_failure_remembered_for_an_hour(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    adapter = provider(httpserver, redis_client)
    stranger = wechat_message(to="+8613900139000")
    first = expect_failure(adapter, stranger, httpserver)
    assert (first.failure, first.provider_code) == (FailureClass.UNREACHABLE, "46004")
    again = expect_failure(adapter, stranger)
    assert (again.failure, again.provider_code) == (FailureClass.UNREACHABLE, "46004")
    assert wecom.lookups == ["13900139000"]  # failed look-ups count toward a day's block
    assert wecom.sent == []
    (remembered,) = redis_client.keys(f"otp:{{wecom:{CORP_ID}:{AGENT_ID}}}:nm:*")
    assert 3500 < redis_client.ttl(remembered) <= 3600
    assert b"13900139000" not in remembered


def test_an_openid_is_no_wecom_destination(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    error = expect_failure(provider(httpserver, redis_client), wechat_message(to="oUpF8uMuAJO_M2"))
    assert error.failure is FailureClass.ROUTE
    assert httpserver.log == []


def test_a_member_the_app_cannot_reach_is_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    partly = {"errcode": 0, "errmsg": "ok", "invaliduser": "zhangsan", "msgid": "m9"}
    httpserver.expect_oneshot_request("/cgi-bin/message/send").respond_with_response(reply(partly))
    error = expect_failure(provider(httpserver, redis_client), wechat_message(), httpserver)
    assert (error.failure, error.provider_code) == (FailureClass.UNREACHABLE, "invaliduser")


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (-1, FailureClass.TRANSIENT),
        (45009, FailureClass.TRANSIENT),
        (45033, FailureClass.TRANSIENT),
        (48002, FailureClass.ROUTE),
        (50002, FailureClass.ROUTE),
        (60020, FailureClass.ROUTE),
        (99999, FailureClass.ROUTE),  # unknown: this account's set-up, not the recipient
    ],
)
def test_error_codes_are_classified(
    httpserver: HTTPServer,
    redis_client: redis.Redis,
    wecom: WecomStandIn,
    code: int,
    failure: FailureClass,
) -> None:
    answer = error(code, "from ip 203.0.113.7, hint: [1700000000_13800138000]")
    httpserver.expect_oneshot_request("/cgi-bin/message/send").respond_with_response(answer)
    raised = expect_failure(provider(httpserver, redis_client), wechat_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (failure, str(code))
    assert "13800138000" not in raised.message


def test_a_wrong_secret_is_a_route_failure(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    adapter = provider(httpserver, redis_client, corp_secret="not-the-secret")
    raised = expect_failure(adapter, wechat_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "40001")
    assert wecom.lookups == []


def test_a_proxy_error_page_is_transient(httpserver: HTTPServer, redis_client: redis.Redis) -> None:
    page = Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html")
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_response(page)
    raised = expect_failure(provider(httpserver, redis_client), wechat_message(), httpserver)
    assert (raised.failure, raised.provider_code) == (FailureClass.TRANSIENT, "502")


def test_timeout_is_transient(
    httpserver: HTTPServer, redis_client: redis.Redis, wecom: WecomStandIn
) -> None:
    late = reply({"errcode": 0, "errmsg": "ok", "userid": "zhangsan"})
    with stalled(httpserver, "/cgi-bin/user/getuserid", late) as stall:
        raised = expect_failure(provider(httpserver, redis_client, 0.2), wechat_message())
    assert raised.failure is FailureClass.TRANSIENT
    assert stall.seconds < 1.5  # the timeout, not the stand-in's 2 s hold


def test_connection_refused_is_transient(httpserver: HTTPServer, redis_client: redis.Redis) -> None:
    unreachable = provider(httpserver, redis_client, base_url=f"http://127.0.0.1:{free_port()}")
    assert expect_failure(unreachable, wechat_message()).failure is FailureClass.TRANSIENT


def test_redis_down_is_transient(httpserver: HTTPServer, wecom: WecomStandIn) -> None:
    down = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    raised = expect_failure(provider(httpserver, down), wechat_message())
    assert raised.failure is FailureClass.TRANSIENT
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"corp_id": ""}, "corp_id"),
        ({"corp_secret": "  "}, "corp_secret"),
        ({"agent_id": None}, "agent_id"),
        ({"agent_id": "app-one"}, "agent_id"),
        ({"base_url": "ftp://qyapi.example.com"}, "base_url"),
    ],
)
def test_bad_settings_name_the_key(
    httpserver: HTTPServer, redis_client: redis.Redis, change: dict[str, Any], key: str
) -> None:
    changed, wechat = {**settings(httpserver), **change}, frozenset({"wechat"})
    with_redis = ProviderContext(redis=redis_client)
    build = WecomProvider.from_settings
    assert config_error_key(build, "wc", wechat, changed, with_redis) == key


def test_the_service_redis_client_is_needed(httpserver: HTTPServer) -> None:
    build, configured = WecomProvider.from_settings, settings(httpserver)
    assert config_error_key(build, "wc", frozenset({"wechat"}), configured, CONTEXT) == "type"
