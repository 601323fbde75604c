"""The bot check against a local siteverify stand-in: it checks what the providers check (the
secret, the token, the client's address) and answers as they do."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .conftest import TRUSTED, wait_logged
from .guard_helpers import QUIET_GUARD, Clock, ask, in_prefix, merged, routing, with_clock

SECRET = "0x4AAAAAAAsiteverify-secret"
SITE_KEY = "0x4AAAAAAAB5bcDeFgHiJkLm"
CLIENT = "198.51.100.23"


class Siteverify:
    """A siteverify that knows one secret and answers each token its own way, after `delay`."""

    def __init__(self, answers: dict[str, dict[str, Any]], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.asked = 0

    def __call__(self, request: Request) -> Response:
        self.asked += 1
        time.sleep(self.delay)
        form = request.form
        if form.get("secret") != SECRET:
            return Response('{"success": false, "error-codes": ["invalid-input-secret"]}')
        assert form.get("remoteip") == CLIENT
        answer = self.answers.get(form.get("response", ""), {"success": False})
        return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture
def checked(routed_app: Callable[..., Flask], httpserver: HTTPServer) -> Callable[..., Flask]:
    """An app whose bot check posts to the stand-in; `bot` keys go to its entry."""

    def make(guard: dict[str, Any] | None = None, **bot: Any) -> Flask:
        entry = {
            "provider": "turnstile",
            "site_key": SITE_KEY,
            "secret": "${BOT_SECRET}",
            "verify_url": httpserver.url_for("/siteverify"),
            "when": "always",
            **bot,
        }
        text = routing(merged(QUIET_GUARD, {"bot_check": entry, **(guard or {})}))
        return with_clock(routed_app(text, {"BOT_SECRET": SECRET}), Clock())

    return make


ANSWERS = {
    "good": {"success": True, "hostname": "login.example.com"},
    "human": {"success": True, "score": 0.9, "action": "otp_request"},
    "robot": {"success": True, "score": 0.2, "action": "otp_request"},
}


@pytest.mark.parametrize(
    ("provider", "token", "status", "failed"),
    [
        ("turnstile", "good", 202, None),
        ("hcaptcha", "good", 202, None),
        ("turnstile", "forged", 428, "invalid"),
        ("turnstile", None, 428, "missing"),
        ("recaptcha", "human", 202, None),
        ("recaptcha", "robot", 428, "low_score"),
    ],
)
def test_a_token_passes_or_the_answer_asks_for_the_challenge(
    checked: Callable[..., Flask],
    httpserver: HTTPServer,
    provider: str,
    token: str | None,
    status: int,
    failed: str | None,
) -> None:
    httpserver.expect_request("/siteverify", method="POST").respond_with_handler(
        Siteverify(ANSWERS)
    )
    client = checked(provider=provider).test_client()
    body = {"captcha_token": token} if token else {}
    answer = ask(client, in_prefix(1), ip=CLIENT, **body)
    assert answer.status_code == status, answer.get_json()
    if failed:
        error = answer.get_json()["error"]
        assert error["code"] == "challenge_required"
        assert error["details"] == {
            "reason": "always",
            "failed": failed,
            "provider": provider,
            "site_key": SITE_KEY,
        }
    sent = [request.form for request, _ in httpserver.log]
    if token:
        assert [form["response"] for form in sent] == [token]
        assert ("sitekey" in sent[0]) == (provider == "hcaptcha")
    else:
        assert sent == []  # nothing to check: no call


@pytest.mark.parametrize(("on_error", "status"), [("open", 202), ("closed", 428)])
def test_an_unreachable_siteverify_fails_open_or_closed(
    checked: Callable[..., Flask], httpserver: HTTPServer, on_error: str, status: int
) -> None:
    slow = Siteverify(ANSWERS, 1.0)
    httpserver.expect_request("/siteverify").respond_with_handler(slow)
    client = checked(on_error=on_error, timeout=0.1).test_client()
    started = time.monotonic()
    answer = ask(client, in_prefix(1), ip=CLIENT, captcha_token="good")
    assert time.monotonic() - started < 0.8  # the 0.1 s timeout, not the stand-in's second
    assert answer.status_code == status
    if status == 428:
        assert answer.get_json()["error"]["details"]["failed"] == "unreachable"
    wait_logged(httpserver, slow.asked)  # the call the service gave up on
    assert len(httpserver.log) == slow.asked == 1


def test_asked_only_when_suspect_a_person_gets_through_what_a_bot_does_not(
    checked: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/siteverify").respond_with_handler(Siteverify(ANSWERS))
    client = checked({"prefix": {"hour": {"floor": 1}}}, when="suspect").test_client()
    assert ask(client, in_prefix(1), ip=CLIENT).status_code == 202  # not suspect: no check
    assert httpserver.log == []
    challenged = ask(client, in_prefix(2), ip=CLIENT)
    assert challenged.status_code == 428
    assert challenged.get_json()["error"]["details"]["reason"] == "prefix"
    assert ask(client, in_prefix(3), ip=CLIENT, captcha_token="good").status_code == 202
    # a trusted backend cannot answer a challenge: it is refused outright
    trusted = client.post("/otp/request", json={"phone": in_prefix(4)}, headers=TRUSTED)
    assert trusted.status_code == 403
    assert trusted.get_json()["error"]["code"] == "fraud_blocked"


def test_trusted_callers_and_resends_are_not_asked(
    checked: Callable[..., Flask], httpserver: HTTPServer
) -> None:
    client = checked(guard={"mode": "off"}).test_client()
    asked = client.post("/otp/request", json={"phone": in_prefix(1)}, headers=TRUSTED)
    assert asked.status_code == 202
    assert httpserver.log == []


def test_the_demo_page_shows_the_widget_only_when_configured(
    checked: Callable[..., Flask], make_app: Callable[..., Flask]
) -> None:
    page = checked(provider="hcaptcha").test_client().get("/demo")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in policy
    assert "https://*.hcaptcha.com" in policy
    assert "frame-src https://hcaptcha.com" in policy
    html = page.get_data(as_text=True)
    assert 'src="https://js.hcaptcha.com/1/api.js"' in html
    assert f'data-sitekey="{SITE_KEY}"' in html
    plain = make_app().test_client().get("/demo")
    assert "hcaptcha" not in plain.headers["Content-Security-Policy"]
    assert "data-captcha=" not in plain.get_data(as_text=True)
    assert "api.js" not in plain.get_data(as_text=True)
