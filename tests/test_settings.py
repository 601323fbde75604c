"""Production mode refuses to start without its secrets, naming each missing setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from app import settings
from app.settings import SettingsError
from app.verification.tokens import generate_pem


def test_production_names_every_missing_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        settings.load({"OTP_ENV": "production", "OTP_SECRET": "", "OTP_SIGNING_KEY": ""})
    message = str(caught.value)
    for name in ("OTP_SECRET", "OTP_SIGNING_KEY", "OTP_ROUTING_FILE"):
        assert name in message


def test_no_env_value_means_production() -> None:
    with pytest.raises(SettingsError, match="OTP_SECRET"):
        settings.load({"OTP_ENV": "", "OTP_SECRET": "", "OTP_SIGNING_KEY": ""})


def test_production_starts_with_its_settings(tmp_path: object) -> None:
    loaded = settings.load(
        {
            "OTP_ENV": "production",
            "OTP_SECRET": "s" * 40,
            "OTP_SIGNING_KEY": generate_pem(),
            "OTP_ROUTING_FILE": "r.yaml",
        }
    )
    assert not loaded.development


def test_test_numbers_need_explicit_consent_outside_development() -> None:
    with pytest.raises(SettingsError, match="OTP_ALLOW_TEST_NUMBERS"):
        settings.load(
            {
                "OTP_ENV": "production",
                "OTP_SECRET": "s" * 40,
                "OTP_SIGNING_KEY": generate_pem(),
                "OTP_ROUTING_FILE": "r.yaml",
                "OTP_TEST_NUMBERS": "+15005550006=123456",
            }
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTP_TTL", "601"),
        ("OTP_TTL", "soon"),
        ("OTP_CODE_LENGTH", "3"),
        ("OTP_CODE_LENGTH", "11"),
        ("OTP_LIMIT_IP_REQUEST", "lots"),
        ("OTP_TEST_NUMBERS", "15005550006:1"),
    ],
)
def test_bad_values_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        settings.load({"OTP_ENV": "development", name: value})


def test_production_serves_no_development_pages(make_app: Callable[..., Flask]) -> None:
    routing = Path(__file__).with_name("routing.yaml")
    app = make_app(
        OTP_ENV="production",
        OTP_SECRET="s" * 40,
        OTP_SIGNING_KEY=generate_pem(),
        OTP_ROUTING_FILE=str(routing),
    )
    client = app.test_client()
    for path in ("/dev/outbox", "/demo"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.post("/otp/request", json={"phone": "+8613800138000"}).status_code == 202


def test_workers_starting_together_share_one_development_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from app.services import development_secrets

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: development_secrets(tmp_path), range(32)))
    assert len({entry["secret"] for entry in made}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secrets.json"]
