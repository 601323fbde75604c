"""Webhooks to the business system: signed, rotated, retried, bounded, and never a code."""

from __future__ import annotations

import json
import logging
import re
import runpy
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from pytest_httpserver import HTTPServer
from redis.cluster import RedisCluster
from werkzeug import Request, Response

from app import routing_file
from app.delivery.providers.base import ProviderContext
from app.routing_file import RoutingError
from app.webhooks import EVENTS, Endpoint, Webhooks
from app.webhooks.sender import SILENT_SECONDS

from .conftest import outbox_code, wait_logged

WEBHOOKS_DOC = Path(__file__).parents[1] / "docs" / "webhooks.md"
HEADING = "Verifying a webhook"
SECRET = "new-secret-0123456789abcdef"
OLD_SECRET = "old-secret-0123456789abcdef"
# Secrets reach the routing file from the environment only.
ENV = {"HOOK_SECRET": SECRET, "OLD_HOOK_SECRET": OLD_SECRET, "SHORT_SECRET": "short"}
SECRET_REF, OLD_SECRET_REF = "${HOOK_SECRET}", "${OLD_HOOK_SECRET}"
APPROVED = {
    "id": "abcdefghij2345mnopqrstuvwxyz2345",
    "status": "approved",
    "channel": "sms",
    "to": "+86138****8000",
    "country": "CN",
    "purpose": "login",
    "provider": "cn_a",
}


def parse(entries: Any, source: str) -> list[Endpoint]:
    """The endpoints of a routing file with these `webhooks:` and a console provider."""
    document = {"providers": {"console": {"type": "console"}}, "webhooks": entries}
    return list(routing_file.parse(document, source, ProviderContext(), ENV).webhooks)


def readme_snippet(path: Path) -> str:
    """The first python block after the heading that names HEADING."""
    text = path.read_text()
    heading = re.search(rf"^#+ .*{HEADING}.*$", text, re.MULTILINE)
    assert heading, f"no '{HEADING}' heading in {path}"
    block = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(
        text, heading.end()
    )
    assert block, f"no python block under '{HEADING}' in {path}"
    return block.group(1)


@pytest.fixture(scope="module")
def verify_webhook(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., bool]:
    """The verification snippet of docs/webhooks.md, run as it is written."""
    script = tmp_path_factory.mktemp("snippet") / "verify_webhook.py"
    script.write_text(readme_snippet(WEBHOOKS_DOC))
    function: Callable[..., bool] = runpy.run_path(str(script))["verify_webhook"]
    return function


class Clock:
    """Wall-clock time that moves only when told, so backoff is stepped without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_hooks(
    redis_client: redis.Redis, httpserver: HTTPServer, clock: Clock
) -> Iterator[Callable[..., Webhooks]]:
    """Webhooks to the local business system at /hook; keyword arguments go to its entry."""
    made: list[Webhooks] = []

    def make(max_age: float = 3600, autostart: bool = False, **entry: Any) -> Webhooks:
        entry = {"url": httpserver.url_for("/hook"), "events": sorted(EVENTS)} | entry
        endpoints = parse([{"secret": SECRET_REF, **entry}], "routing.yaml")
        hooks = Webhooks(
            redis_client, endpoints, max_age, timeout=2, clock=clock, autostart=autostart
        )
        made.append(hooks)
        return hooks

    yield make
    for hooks in made:
        hooks.stop()


def requests_of(server: HTTPServer) -> list[Request]:
    return [request for request, _ in server.log]


def test_approval_is_posted_signed_and_verifies_with_the_readme_snippet(
    make_hooks: Callable[..., Webhooks],
    httpserver: HTTPServer,
    clock: Clock,
    redis_client: redis.Redis,
    verify_webhook: Callable[..., bool],
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hooks = make_hooks()
    hooks.emit("verification.approved", APPROVED)
    assert hooks.run_once() == 1
    [request] = requests_of(httpserver)
    body = request.get_data()
    event_id = request.headers["X-OTP-Webhook-Id"]
    expected = {"id": event_id, "event": "verification.approved", "created": int(clock.now)}
    assert body == json.dumps({**expected, "data": APPROVED}, separators=(",", ":")).encode()
    assert request.headers["X-OTP-Webhook-Event"] == "verification.approved"
    assert request.headers["X-OTP-Webhook-Timestamp"] == str(int(clock.now))
    assert request.headers["Content-Type"] == "application/json"
    assert verify_webhook(SECRET, request.headers, body)
    assert not verify_webhook(OLD_SECRET, request.headers, body)
    assert not verify_webhook(SECRET, request.headers, body.replace(b"approved", b"approvee"))
    # Delivered: nothing left but the sender's heartbeat, and every key will expire.
    keys = redis_client.keys("*")
    assert keys == [b"otp:{wh}:webhooks:senders"]
    assert all(redis_client.ttl(key) > 0 for key in keys)
    assert hooks.run_once() == 0


def test_a_rotated_secret_signs_with_both_only_during_the_overlap(
    make_hooks: Callable[..., Webhooks],
    httpserver: HTTPServer,
    clock: Clock,
    verify_webhook: Callable[..., bool],
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    until = datetime.fromtimestamp(clock.now + 60, UTC).isoformat()
    hooks = make_hooks(previous_secret=OLD_SECRET_REF, previous_secret_until=until)
    hooks.emit("verification.approved", APPROVED)
    hooks.run_once()
    clock.advance(61)
    hooks.emit("verification.approved", APPROVED)
    hooks.run_once()
    during, after = requests_of(httpserver)
    assert during.headers["X-OTP-Webhook-Signature"].count("v1=") == 2
    assert verify_webhook(SECRET, during.headers, during.get_data())
    assert verify_webhook(OLD_SECRET, during.headers, during.get_data())
    assert after.headers["X-OTP-Webhook-Signature"].count("v1=") == 1
    assert verify_webhook(SECRET, after.headers, after.get_data())
    assert not verify_webhook(OLD_SECRET, after.headers, after.get_data())


def test_a_failed_delivery_is_retried_with_backoff_under_the_same_id(
    make_hooks: Callable[..., Webhooks], httpserver: HTTPServer, clock: Clock
) -> None:
    for _ in range(2):
        httpserver.expect_oneshot_request("/hook").respond_with_data("down", status=500)
    httpserver.expect_request("/hook").respond_with_data("ok")
    hooks = make_hooks()
    hooks.emit("verification.approved", APPROVED)
    start = int(clock.now)
    # (seconds to step, POSTs expected): backoff 1 s after the first failure, 2 s after the second.
    for step, posts in [(0, 1), (0.9, 0), (0.1, 1), (1.9, 0), (0.1, 1), (600, 0)]:
        clock.advance(step)
        assert hooks.run_once() == posts
    tries = requests_of(httpserver)
    assert len(tries) == 3
    assert len({r.headers["X-OTP-Webhook-Id"] for r in tries}) == 1
    assert len({r.get_data() for r in tries}) == 1
    assert [int(r.headers["X-OTP-Webhook-Timestamp"]) - start for r in tries] == [0, 1, 3]


def test_a_delivery_is_given_up_after_max_age(
    make_hooks: Callable[..., Webhooks],
    httpserver: HTTPServer,
    clock: Clock,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    hooks = make_hooks(max_age=5)
    hooks.emit("verification.approved", APPROVED)
    with caplog.at_level(logging.INFO, logger="app.webhooks"):
        posts = 0
        for _ in range(10):
            posts += hooks.run_once()
            clock.advance(1)
        # Tries at 0, 1 and 3 s; the next would come at 7 s, past the 5 s window.
        assert posts == 3
        assert [r.tries for r in caplog.records if r.getMessage() == "webhook given up"] == [3]
        # A job that waited out the whole window is given up without a POST.
        hooks.emit("verification.approved", APPROVED)
        clock.advance(5)
        assert hooks.run_once() == 0
    assert len([r for r in caplog.records if r.getMessage() == "webhook given up"]) == 2
    assert redis_client.keys("otp:{wh}:webhooks:retries") == []
    assert redis_client.llen("otp:{wh}:webhooks:queue") == 0


# What replicas (REPLCONF ACK each second), Sentinels (PING, INFO, PUBLISH on their hello
# channel) and Cluster peers send a server of their own accord, whatever the test does.
HOUSEKEEPING = ("cmdstat_info", "cmdstat_replconf", "cmdstat_ping", "cmdstat_publish")


def command_calls(client: redis.Redis) -> Counter[str]:
    """Calls per command the server (every primary of a Cluster) has run (scripts' own calls
    included), the topology's own housekeeping aside."""
    if isinstance(client, RedisCluster):
        servers = client.info("commandstats", target_nodes=RedisCluster.PRIMARIES).values()
    else:
        servers = [client.info("commandstats")]
    calls: Counter[str] = Counter()
    for stats in servers:
        calls.update({name: v["calls"] for name, v in stats.items() if name not in HOUSEKEEPING})
    return calls


def test_emit_costs_one_redis_command_and_none_without_a_subscriber(
    make_hooks: Callable[..., Webhooks], redis_client: redis.Redis
) -> None:
    hooks = make_hooks(events=["delivery.failed"])
    assert not hooks.wants("verification.approved")
    assert hooks.wants("delivery.failed")
    failed = {"id": APPROVED["id"], "status": "failed", "reason": "exhausted"}
    hooks.emit("delivery.failed", failed)  # loads the script into a Redis that may lack it
    before = command_calls(redis_client)
    hooks.emit("verification.approved", APPROVED)
    hooks.emit("verification.expired", {**APPROVED, "status": "expired"})
    assert command_calls(redis_client) == before
    hooks.emit("delivery.failed", failed)
    after = command_calls(redis_client)
    ran = {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name)}
    # One EVALSHA from the client; LPUSH and EXPIRE are what it runs inside Redis.
    assert ran == {"cmdstat_evalsha": 1, "cmdstat_lpush": 1, "cmdstat_expire": 1}


def test_an_expiry_event_is_sent_unless_the_verification_settles_first(
    make_hooks: Callable[..., Webhooks], httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    hooks = make_hooks(events=["verification.expired"])
    assert hooks.wants("verification.approved")  # it settles the expiry event
    pending = {**APPROVED, "status": "pending"}
    approved, cancelled, expired = (
        {**pending, "id": name * 4} for name in ("approved", "cancelled", "expired")
    )
    expires_at = clock.now + 300
    for data in (approved, cancelled, expired):
        hooks.schedule_expiry(data, expires_at)
    hooks.emit("verification.approved", approved)  # no subscriber, but it settles
    hooks.cancel_expiry(cancelled["id"])
    clock.advance(299)
    assert hooks.run_once() == 0
    clock.advance(1)
    assert hooks.run_once() == 1
    [request] = requests_of(httpserver)
    event = json.loads(request.get_data())
    assert event["event"] == "verification.expired"
    assert event["created"] == int(expires_at)
    assert event["data"] == {**expired, "status": "expired"}


def test_event_data_can_carry_neither_a_code_nor_an_unmasked_destination(
    make_hooks: Callable[..., Webhooks], redis_client: redis.Redis
) -> None:
    hooks = make_hooks()
    with pytest.raises(ValueError, match="code"):
        hooks.emit("verification.approved", {**APPROVED, "code": "123456"})
    with pytest.raises(ValueError, match="masked"):
        hooks.emit("verification.approved", {**APPROVED, "to": "+8613800138000"})
    with pytest.raises(ValueError, match="unknown webhook event"):
        hooks.emit("verification.sent", APPROVED)
    assert redis_client.keys("*") == []


def test_the_job_of_a_dead_sender_is_sent_by_another(
    make_hooks: Callable[..., Webhooks], httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    hooks = make_hooks()
    hooks.emit("verification.approved", APPROVED)
    hooks.queue.tick("dead-sender", clock.now)
    assert hooks.queue.claim("dead-sender", None) is not None  # claimed, then it died
    assert hooks.run_once() == 0
    clock.advance(SILENT_SECONDS + 1)
    assert hooks.run_once() == 1
    assert "dead-sender" not in hooks.queue.silent_senders(clock.now + 1)


def test_the_sender_thread_starts_on_first_emit_and_stops_after_its_post(
    make_hooks: Callable[..., Webhooks], httpserver: HTTPServer, redis_client: redis.Redis
) -> None:
    arrived = threading.Event()

    def slow(request: Request) -> Response:
        arrived.set()
        time.sleep(1.0)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    hooks = make_hooks(autostart=True)
    assert "otp-webhooks" not in {t.name for t in threading.enumerate()}
    started = time.monotonic()
    hooks.emit("verification.approved", APPROVED)
    assert time.monotonic() - started < 0.5  # the POST, which takes a second, is not waited for
    assert arrived.wait(3)
    hooks.stop()  # graceful: returns after the in-flight POST got its answer
    assert "otp-webhooks" not in {t.name for t in threading.enumerate()}
    assert len(httpserver.log) == 1
    assert redis_client.keys("otp:{wh}:webhooks:processing:*") == []
    assert redis_client.zcard("otp:{wh}:webhooks:senders") == 0


def wait_for_posts(server: HTTPServer, count: int) -> list[Request]:
    wait_logged(server, count)
    return requests_of(server)


def test_the_service_posts_what_became_of_verifications_and_never_a_code(
    make_app: Callable[..., Flask],
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    verify_webhook: Callable[..., bool],
) -> None:
    monkeypatch.setenv("OTP_TEST_WEBHOOK_SECRET", SECRET)
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "providers: {console: {type: console}}\n"
        "own_numbers: {default: [{provider: console}]}\n"
        "webhooks:\n"
        f"  - url: {httpserver.url_for('/hook')}\n"
        "    events: [verification.approved, verification.failed]\n"
        "    secret: ${OTP_TEST_WEBHOOK_SECRET}\n"
    )
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    app = make_app(OTP_ROUTING_FILE=str(routing))
    client = app.test_client()
    phones, ids, codes = ["+8613800138000", "+8613800138001"], [], []
    try:
        for phone in phones:
            ids.append(client.post("/otp/request", json={"phone": phone}).get_json()["id"])
            codes.append(outbox_code(client, phone))
        assert client.post("/otp/verify", json={"id": ids[0], "code": codes[0]}).status_code == 200
        wrong = f"{(int(codes[1]) + 1) % 10 ** len(codes[1]):0{len(codes[1])}d}"
        answers = [client.post("/otp/verify", json={"id": ids[1], "code": wrong}) for _ in range(5)]
        assert answers[-1].status_code == 429
        posts = wait_for_posts(httpserver, 2)
    finally:
        app.extensions["otp"].webhooks.stop()
    events = {r.headers["X-OTP-Webhook-Event"]: json.loads(r.get_data()) for r in posts}
    assert events["verification.approved"]["data"] == {
        "id": ids[0],
        "status": "approved",
        "channel": "sms",
        "to": "+86138****8000",
        "country": "CN",
        "purpose": "login",
        "provider": "console",
    }
    assert events["verification.failed"]["data"]["id"] == ids[1]
    assert events["verification.failed"]["data"]["status"] == "too_many_attempts"
    for request in posts:
        assert verify_webhook(SECRET, request.headers, request.get_data())
        body = request.get_data().decode()
        assert not any(secret in body for secret in [*codes, *phones, phones[0][1:]])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "ftp://biz.example/hook"}, "webhooks[0].url: must be an http:// or https:// URL"),
        ({"url": None}, "webhooks[0].url: must be an http"),
        (
            {"events": ["verification.sent"]},
            "webhooks[0].events: unknown event 'verification.sent'",
        ),
        ({"events": []}, "webhooks[0].events: must list at least one"),
        ({"secret": None}, "webhooks[0].secret: is required"),
        ({"secret": "${SHORT_SECRET}"}, "webhooks[0].secret: must be at least 16 characters"),
        ({"secret": SECRET}, "webhooks[0].secret: a secret must come from the environment"),
        ({"secret": "${UNSET_SECRET}"}, "webhooks[0].secret: environment variable UNSET_SECRET"),
        ({"previous_secret_until": 1}, "webhooks[0].previous_secret_until: needs a previous"),
        (
            {"previous_secret": OLD_SECRET_REF, "previous_secret_until": "next tuesday"},
            "webhooks[0].previous_secret_until: must be an ISO-8601",
        ),
        ({"retries": 3}, "webhooks[0].retries: unknown key"),
    ],
)
def test_a_bad_webhook_entry_is_refused_naming_its_key(entry: dict[str, Any], message: str) -> None:
    good = {"url": "https://biz.example/hook", "events": ["delivery.failed"], "secret": SECRET_REF}
    bad = {key: value for key, value in {**good, **entry}.items() if value is not None}
    with pytest.raises(RoutingError, match=re.escape(f"routing.yaml: {message}")):
        parse([bad], "routing.yaml")


def test_webhook_list_shapes_and_rotation_times() -> None:
    with pytest.raises(RoutingError, match=re.escape("routing.yaml: webhooks: must be a list")):
        parse({"url": "https://biz.example/hook"}, "routing.yaml")
    twice = {"url": "https://biz.example/hook", "events": ["delivery.failed"], "secret": SECRET_REF}
    with pytest.raises(RoutingError, match=re.escape("webhooks[1].url: the same URL")):
        parse([twice, twice], "routing.yaml")
    assert parse(None, "routing.yaml") == []
    moment = datetime(2025, 7, 1, 12, tzinfo=UTC)
    for until in (moment, moment.replace(tzinfo=None), "2025-07-01T12:00:00Z", 1751371200):
        rotating = {**twice, "previous_secret": OLD_SECRET_REF, "previous_secret_until": until}
        [endpoint] = parse([rotating], "routing.yaml")
        assert endpoint.previous_secret_until == moment.timestamp()
        assert endpoint.secrets_at(moment.timestamp() - 1) == (SECRET, OLD_SECRET)
        assert endpoint.secrets_at(moment.timestamp()) == (SECRET,)
    assert SECRET not in repr(endpoint)
    assert isinstance(endpoint, Endpoint)
