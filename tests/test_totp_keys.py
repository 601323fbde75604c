"""TOTP secrets at rest: AES-GCM keys by id, rotation, an unknown key id, export and import,
and the settings that turn factors on."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable

import pytest
import redis
from flask import Flask

from app import settings
from app.factors.crypto import Keyring, SealError
from app.settings import SettingsError
from app.verification.tokens import generate_pem

from .conftest import TRUSTED
from .test_totp import Clock, confirmed, verify

OLD = base64.b64encode(b"o" * 32).decode()
NEW = base64.b64encode(b"n" * 32).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyed_app(make_app: Callable[..., Flask], clock: Clock) -> Callable[[str], Flask]:
    """An app whose OTP_TOTP_KEYS is `keys`, on the test's clock."""

    def make(keys: str) -> Flask:
        app = make_app(OTP_TOTP_KEYS=keys)
        app.extensions["otp"].factors.clock = clock
        return app

    return make


def _sealed(redis_client: redis.Redis, factor_id: str) -> str:
    return redis_client.hget(f"otp:{{{factor_id[2:12]}}}:tf:{factor_id[12:]}", "k").decode()


def test_a_sealed_secret_opens_only_for_its_own_factor_and_entity() -> None:
    ring = Keyring([("new", b"n" * 32), ("old", b"o" * 32)])
    sealed = ring.seal("JBSWY3DPEHPK3PXP", "YFa", "user_1")
    assert sealed.startswith("new.")
    assert ring.open(sealed, "YFa", "user_1") == "JBSWY3DPEHPK3PXP"
    for factor_id, entity in (("YFb", "user_1"), ("YFa", "user_2")):
        with pytest.raises(SealError) as caught:
            ring.open(sealed, factor_id, entity)
        assert caught.value.key_id == "new"
    with pytest.raises(SealError, match="not in OTP_TOTP_KEYS"):
        Keyring([("old", b"o" * 32)]).open(sealed, "YFa", "user_1")


def test_rotation_reseals_every_factor_and_keeps_it_usable(
    keyed_app: Callable[[str], Flask], clock: Clock, redis_client: redis.Redis
) -> None:
    before = keyed_app(f"old:{OLD}").test_client()
    factors = [confirmed(before, clock, entity) for entity in ("user_1", "user_2", "user_3")]
    assert all(_sealed(redis_client, factor_id).startswith("old.") for factor_id, _ in factors)

    rotating = keyed_app(f"new:{NEW},old:{OLD}")
    ran = rotating.test_cli_runner().invoke(args=["otp", "totp", "rotate-key", "--batch", "2"])
    assert ran.exit_code == 0, ran.output
    assert "re-sealed under new: 3; already under it: 0" in ran.output
    assert all(_sealed(redis_client, factor_id).startswith("new.") for factor_id, _ in factors)
    again = rotating.test_cli_runner().invoke(args=["otp", "totp", "rotate-key"])
    assert "re-sealed under new: 0; already under it: 3" in again.output

    after = keyed_app(f"new:{NEW}").test_client()
    clock.steps(1)
    for factor_id, totp in factors:
        assert verify(after, totp.at(clock.now), factor_id=factor_id).status_code == 200


def test_a_factor_under_an_unknown_key_id_fails_clearly(
    keyed_app: Callable[[str], Flask], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    factor_id, totp = confirmed(keyed_app(f"old:{OLD}").test_client(), clock)
    app = keyed_app(f"new:{NEW}")
    caplog.set_level(logging.INFO)
    clock.steps(1)
    answer = verify(app.test_client(), totp.at(clock.now), factor_id=factor_id)
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "factor_unreadable"
    assert answer.get_json()["error"]["details"] == {"factor_id": factor_id, "key_id": "old"}
    named = [r.getMessage() for r in caplog.records if "'old'" in r.getMessage()]
    assert named
    assert named[0].startswith(f"totp factor {factor_id} cannot be opened")
    assert totp.secret not in caplog.text

    ran = app.test_cli_runner().invoke(args=["otp", "totp", "rotate-key"])
    assert ran.exit_code == 1
    assert "unreadable: 1 under key id 'old'" in ran.output


def test_the_cli_lists_and_deletes_factors(keyed_app: Callable[[str], Flask], clock: Clock) -> None:
    app = keyed_app(f"new:{NEW}")
    factor_id, totp = confirmed(app.test_client(), clock)
    listed = app.test_cli_runner().invoke(args=["otp", "totp", "list", "user_1"])
    assert listed.stdout.startswith(f"{factor_id} verified ")
    assert totp.secret not in listed.output
    deleted = app.test_cli_runner().invoke(args=["otp", "totp", "delete", factor_id])
    assert deleted.stdout == f"deleted {factor_id}\n"
    gone = app.test_client().get("/totp/entities/user_1/factors", headers=TRUSTED)
    assert gone.get_json()["factors"] == []


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("k1", "id:base64"),
        ("k1:not base64!", "'k1' is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "'k1' must be 32 bytes"),
        (f"k1:{OLD},k1:{NEW}", "unique"),
        (f"bad id:{OLD}", "id:base64"),
    ],
)
def test_bad_keys_stop_start_up_without_showing_them(keys: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings.load({"OTP_ENV": "development", "OTP_TOTP_KEYS": keys})
    assert problem in str(caught.value)
    assert "OTP_TOTP_KEYS=(hidden)" in str(caught.value)
    assert OLD not in str(caught.value)


def test_totp_is_on_with_keys_or_in_development_and_needs_keys_in_production() -> None:
    production = {
        "OTP_ENV": "production",
        "OTP_SECRET": "s" * 40,
        "OTP_SIGNING_KEY": generate_pem(),
        "OTP_ROUTING_FILE": "r.yaml",
    }
    assert settings.load(production).totp is False
    keyed = settings.load({**production, "OTP_TOTP_KEYS": f"k1:{OLD}"})
    assert keyed.totp is True
    assert OLD not in repr(keyed)
    assert settings.load({"OTP_ENV": "development"}).totp is True
    assert settings.load({"OTP_ENV": "development", "OTP_TOTP": "off"}).totp is False
    with pytest.raises(SettingsError, match="OTP_TOTP=on needs OTP_TOTP_KEYS"):
        settings.load({**production, "OTP_TOTP": "on"})


def test_with_totp_off_there_are_no_totp_routes(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_TOTP="off").test_client()
    assert client.post("/totp/factors", json={"entity": "u"}, headers=TRUSTED).status_code == 404
    assert client.post("/demo/totp/factors", json={"entity": "u"}).status_code == 404
    assert "Authenticator app" not in client.get("/demo").get_data(as_text=True)


def test_an_export_restores_every_factor_after_a_loss(
    keyed_app: Callable[[str], Flask], clock: Clock, redis_client: redis.Redis
) -> None:
    app = keyed_app(f"new:{NEW}")
    client, runner = app.test_client(), app.test_cli_runner()
    kept = [confirmed(client, clock, entity) for entity in ("user_1", "user_2")]
    client.post("/totp/factors", json={"entity": "user_3"}, headers=TRUSTED)
    exported = runner.invoke(args=["otp", "totp", "export", "--batch", "2"])
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == 6  # three factors, three indexes
    assert sorted(line["ttl_ms"] > 0 for line in lines) == [False] * 4 + [True] * 2
    assert all(totp.secret not in exported.stdout for _, totp in kept)

    redis_client.flushdb()  # the Redis is lost
    restored = runner.invoke(args=["otp", "totp", "import"], input=exported.stdout)
    assert restored.stdout == "restored 6 keys\n"
    clock.steps(1)
    for factor_id, totp in kept:
        assert verify(client, totp.at(clock.now), factor_id=factor_id).status_code == 200
    listed = client.get("/totp/entities/user_3/factors", headers=TRUSTED).get_json()
    assert listed["factors"][0]["status"] == "unverified"


def test_an_import_writes_only_factor_keys(keyed_app: Callable[[str], Flask]) -> None:
    runner = keyed_app(f"new:{NEW}").test_cli_runner()
    line = json.dumps({"key": "otp:{abc}:v:x", "ttl_ms": -1, "dump": ""})
    refused = runner.invoke(args=["otp", "totp", "import"], input=line)
    assert refused.exit_code != 0
    assert "is not a factor key" in str(refused.exception)
