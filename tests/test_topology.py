"""What a Redis Cluster or Sentinel asks of the service, checked on whichever Redis the suite
runs against (CI runs it against standalone, Cluster and Sentinel; scripts/redis-topology).

A Cluster refuses a script whose keys span slots (CROSSSLOT) and redis-py's cluster pipeline
refuses scripts; a restarted, flushed or newly promoted server has an empty script cache.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from redis.cluster import RedisCluster

from app.batch import Batch

from .conftest import outbox_code

PHONES = ["+14155550101", "+4915123456789", "+8613800138000"]


def flush_scripts(client: redis.Redis) -> None:
    """SCRIPT FLUSH on the server, or on every node of a Cluster."""
    if isinstance(client, RedisCluster):
        client.execute_command("SCRIPT FLUSH", target_nodes=RedisCluster.ALL_NODES)
    else:
        client.script_flush()


def test_every_script_is_reloaded_after_script_flush_mid_run(
    make_app: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="0").test_client()
    for phone in PHONES:
        flush_scripts(redis_client)
        started = client.post("/otp/request", json={"phone": phone})  # create, record, breaker
        assert started.status_code == 202, started.get_json()
        verification = started.get_json()["id"]
        flush_scripts(redis_client)
        assert client.post("/otp/request", json={"phone": phone}).status_code == 202  # resend
        flush_scripts(redis_client)
        wrong = client.post("/otp/verify", json={"id": verification, "code": "0000000"})
        assert wrong.status_code == 400
        flush_scripts(redis_client)
        code = outbox_code(client, phone)
        right = client.post("/otp/verify", json={"id": verification, "code": code})
        assert right.status_code == 200, right.get_json()


def test_a_batch_answers_in_the_order_queued_and_reloads_its_scripts(
    redis_client: redis.Redis,
) -> None:
    count = redis_client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    flush_scripts(redis_client)
    batch = Batch(redis_client)
    batch.pipe.set("otp:test:{a}", "5")
    batch.script(count, ["otp:test:{b}"], [2])
    batch.pipe.get("otp:test:{a}")
    batch.script(count, ["otp:test:{c}"], [3])
    assert batch.execute() == [True, 2, b"5", 3]


def test_a_failed_script_call_in_a_batch_is_raised(redis_client: redis.Redis) -> None:
    fails = redis_client.register_script("return redis.call('INCR', KEYS[1])")
    redis_client.set("otp:test:{text}", "not a number")
    batch = Batch(redis_client)
    batch.script(fails, ["otp:test:{text}"], [])
    with pytest.raises(redis.ResponseError, match="not an integer"):
        batch.execute()


class Interrupted(Exception):
    """Raised by a signal handler in the middle of a read, as RQ's SIGTERM handler does."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted


@pytest.mark.skipif(
    not os.environ.get("OTP_TEST_REDIS_URL", "").startswith("redis+sentinel://"),
    reason="the defect worked around is in redis-py's Sentinel connection alone",
)
def test_a_sentinel_connection_whose_read_was_cut_short_is_not_reused(
    redis_client: redis.Redis,
) -> None:
    redis_client.set("otp:test:probe", "mine")
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            redis_client.blpop(["otp:test:empty"], timeout=0.5)
    finally:
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.6)  # the BLPOP's own (empty) reply has arrived on that connection by now
    assert redis_client.get("otp:test:probe") == b"mine"
