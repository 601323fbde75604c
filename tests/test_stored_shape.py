"""What a verification's hash keeps: no field that holds its default or what its destination
tells; and hashes written before, which kept them all, still read, verify and resend."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient

from app.delivery.dispatch import Attempt
from app.verification import attempts

from .conftest import TRUSTED, outbox_code

PHONE = "+4915200006131"


def stored(app: Flask, verification_id: str) -> dict[str, str]:
    services = app.extensions["otp"]
    raw = services.redis.hgetall(services.service.codes.parse_id(verification_id).key)
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items() if k != b"h"}


def status(client: FlaskClient, verification_id: str) -> dict[str, Any]:
    answer = client.get(f"/otp/{verification_id}", headers=TRUSTED)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def test_a_new_verification_keeps_no_default(client: FlaskClient) -> None:
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    assert set(stored(client.application, started["id"])) == {"r", "nx", "to", "at"}
    shown = status(client, started["id"])
    assert (shown["status"], shown["channel"], shown["purpose"]) == ("pending", "sms", "login")
    assert (shown["country"], shown["sends"]) == ("DE", 1)


def test_what_differs_from_the_defaults_is_kept(client: FlaskClient) -> None:
    # A Canadian number shares +1 with the United States, whose it is taken for.
    body = {"phone": "+16135550123", "purpose": "signup", "locale": "de", "channel": "voice"}
    started = client.post("/otp/request", json=body).get_json()
    kept = stored(client.application, started["id"])
    assert {name: kept[name] for name in ("c", "pu", "lo", "cc", "k")} == {
        "c": "voice",
        "pu": "signup",
        "lo": "de",
        "cc": "CA",
        "k": "fm",
    }
    shown = status(client, started["id"])
    assert (shown["channel"], shown["purpose"], shown["country"]) == ("voice", "signup", "CA")


def _write_before(app: Flask, to: str, fields: dict[str, Any]) -> str:
    """A pending verification of `to` for login as hashes were written before (every field
    kept); its id."""
    services = app.extensions["otp"]
    codes = services.service.codes
    ref = codes.ref_for(to, "login")
    code = codes.code(ref.id, to)
    now = int(time.time())
    client: redis.Redis = services.redis
    client.hset(
        ref.key,
        mapping={
            "r": ref.rand,
            "s": "p",
            "h": codes.digest(ref, code),
            "w": "0",
            "n": "1",
            "nx": now + 30,
            "to": to,
            "c": "sms",
            "pu": "login",
            "lo": "en",
            "at": f"console|sms|1|{now * 1000}|0|sent|console-66e33bcf||||\n",
            **fields,
        },
    )
    client.expire(ref.key, 300)
    return str(ref.id)


def test_a_verification_written_before_shows_and_verifies(client: FlaskClient) -> None:
    verification_id = _write_before(client.application, PHONE, {"cc": "DE", "k": "m"})
    shown = status(client, verification_id)
    assert (shown["status"], shown["channel"], shown["purpose"]) == ("pending", "sms", "login")
    assert (shown["country"], shown["sends"]) == ("DE", 1)
    assert shown["resend_after"] in {29, 30}  # a second may begin between write and read
    assert shown["attempts"][0]["message_id"] == "console-66e33bcf"
    assert shown["attempts"][0]["error_class"] == ""
    wrong = client.post("/otp/verify", json={"id": verification_id, "code": "000000"})
    assert wrong.get_json()["error"]["details"] == {"attempts_left": 4}
    code = client.application.extensions["otp"].service.codes.code(verification_id, PHONE)
    answer = client.post("/otp/verify", json={"id": verification_id, "code": code})
    assert answer.status_code == 200
    assert status(client, verification_id)["status"] == "approved"


def test_a_verification_written_before_resends(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_RESEND_COOLDOWN="0").test_client()
    verification_id = _write_before(client.application, PHONE, {"cc": "DE", "k": "m", "nx": 0})
    again = client.post(f"/otp/{verification_id}/resend")
    assert again.status_code == 202, again.get_json()
    assert status(client, verification_id)["sends"] == 2
    code = outbox_code(client, PHONE)
    assert client.post("/otp/verify", json={"id": verification_id, "code": code}).status_code == 200


def test_an_email_verification_written_before_approves(client: FlaskClient) -> None:
    address = "someone@example.com"
    verification_id = _write_before(client.application, address, {"cc": "", "c": "email"})
    shown = status(client, verification_id)
    assert (shown["channel"], shown["country"]) == ("email", None)
    cancelled = client.post(f"/otp/{verification_id}/cancel", headers=TRUSTED)
    assert cancelled.status_code == 200
    assert status(client, verification_id)["status"] == "cancelled"


def test_an_attempt_line_leaves_out_sms_sent_and_empty_fields_at_the_end() -> None:
    sent = Attempt("console", "sms", True, 1796153305.286, 1796153305.288, message_id="c-1")
    assert attempts.lines([sent]) == "console||1|1796153305286|2||c-1\n"
    voice = replace(sent, channel="voice", outcome="failed", message_id="", error_code="21")
    assert attempts.lines([voice]) == "console|voice|1|1796153305286|2|failed|||21\n"
    for attempt in (sent, voice):
        [shown] = attempts.parse_all(attempts.lines([attempt]))
        assert (shown["channel"], shown["outcome"]) == (attempt.channel, attempt.outcome)
        assert shown["message_id"] == attempt.message_id
        assert shown["error_code"] == attempt.error_code
        assert (shown["cost"], shown["fallback"]) == (None, None)


def test_attempt_lines_written_before_still_read() -> None:
    every = "console|sms|1|1796153305286|0|sent|console-66e33bcf||||\n"
    before_fallback = "twilio|voice|0|1796153305286|12|failed||http|503|0.05\n"
    first, second = attempts.parse_all(every + before_fallback)
    assert (first["channel"], first["outcome"], first["message_id"]) == (
        "sms",
        "sent",
        "console-66e33bcf",
    )
    assert (second["channel"], second["outcome"], second["cost"]) == ("voice", "failed", 0.05)
    assert (second["error_code"], second["fallback"]) == ("503", None)
