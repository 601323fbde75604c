"""The WeChat access token shared through Redis: one fetch for every worker, refreshed in time,
refreshed once when the API rejects it, fetched by one worker while the others wait."""

from __future__ import annotations

import threading
import time

import redis
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.base import FailureClass, SendResult

from .standins import expect_failure
from .test_wecom import MEMBERS, provider, wechat_message
from .wechat_standins import AGENT_ID, CORP_ID, Tokens, WecomStandIn

TOKEN_KEY = f"otp:{{wecom:{CORP_ID}:{AGENT_ID}}}:token"


def test_two_app_instances_share_one_token(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    wecom = WecomStandIn(httpserver, dict(MEMBERS))
    first, second = provider(httpserver, redis_client), provider(httpserver, redis_client)
    for adapter in (first, second, first, second, second):
        adapter.send(wechat_message())
    assert wecom.tokens.fetches == 1
    assert len(wecom.sent) == 5
    # Kept until five minutes before its two hours are up.
    assert (7200 - 301) * 1000 < redis_client.pttl(TOKEN_KEY) <= (7200 - 300) * 1000


def test_a_burst_of_workers_fetches_one_token(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    wecom = WecomStandIn(httpserver, dict(MEMBERS))

    def slow_gettoken(request: Request) -> Response:
        time.sleep(0.3)  # every worker finds the cache empty while this one fetches
        return wecom.gettoken(request)

    httpserver.expect_oneshot_request("/cgi-bin/gettoken").respond_with_handler(slow_gettoken)
    results: list[SendResult] = []
    workers = [
        threading.Thread(
            target=lambda: results.append(provider(httpserver, redis_client).send(wechat_message()))
        )
        for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert len(results) == 6
    assert wecom.tokens.fetches == 1
    assert redis_client.get(f"otp:{{wecom:{CORP_ID}:{AGENT_ID}}}:lock") is None


def test_an_expired_token_is_refreshed_once_and_the_call_repeated(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    wecom = WecomStandIn(httpserver, dict(MEMBERS))
    adapter = provider(httpserver, redis_client)
    adapter.send(wechat_message())
    wecom.tokens.expire_all()  # WeCom ended it before our cache did
    adapter.send(wechat_message())
    assert wecom.tokens.fetches == 2
    assert wecom.tokens.refusals == 1  # the look-up with the old token, repeated with the new
    assert len(wecom.sent) == 2
    assert redis_client.get(TOKEN_KEY) == b"wecom-token-2"


def test_a_token_rejected_twice_fails_without_a_third_fetch(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    # Tokens that are dead on arrival: the refresh cannot help, and is tried once only.
    wecom = WecomStandIn(httpserver, dict(MEMBERS), Tokens("wecom-token", lifetime=0))
    raised = expect_failure(provider(httpserver, redis_client), wechat_message())
    assert (raised.failure, raised.provider_code) == (FailureClass.ROUTE, "42001")
    assert wecom.tokens.fetches == 2


def test_the_token_is_refreshed_before_it_expires(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    wecom = WecomStandIn(httpserver, dict(MEMBERS), Tokens("wecom-token", lifetime=2))
    adapter = provider(httpserver, redis_client)
    adapter.send(wechat_message())
    time.sleep(1.1)  # half of a 2-second token's life: still valid, but no longer cached
    adapter.send(wechat_message())
    assert wecom.tokens.fetches == 2
    assert wecom.tokens.refusals == 0  # no call ever went out with a stale token


def test_a_hung_fetch_by_another_worker_is_a_transient_failure(
    httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    wecom = WecomStandIn(httpserver, dict(MEMBERS))
    redis_client.set(f"otp:{{wecom:{CORP_ID}:{AGENT_ID}}}:lock", "another-worker", ex=60)
    started = time.monotonic()
    raised = expect_failure(provider(httpserver, redis_client, 0.1), wechat_message())
    assert raised.failure is FailureClass.TRANSIENT
    assert time.monotonic() - started < 1.5  # gave up after one request timeout and a second
    assert wecom.tokens.fetches == 0
