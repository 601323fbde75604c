"""The routing file is validated at start-up: every problem names the file, the key, the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from app.delivery import config
from app.delivery.reader import RoutingError

BASE = """
providers:
  a: {type: console, channels: [sms]}
  tw:
    type: twilio
    settings: {account_sid: AC123, auth_token: "${TW_TOKEN}", from_number: "+15005550006"}
scheduling:
  countries:
    CN: {resources: [{provider: a}]}
own_numbers:
  default: [{provider: a}]
"""

# (replace this, with that), the key named, the problem named
CASES = [
    (
        "{provider: a}]}\nown",
        "{provider: nobody}]}\nown",
        "scheduling.countries.CN.resources[0].provider",
        "unknown provider 'nobody'",
    ),
    ("    CN:", "    XX:", "scheduling.countries.XX", "unknown country code 'XX'"),
    (
        "{provider: a}]}\nown",
        "{provider: a, channels: [voice]}]}\nown",
        "scheduling.countries.CN.resources[0].channels",
        "a does not serve ['voice']",
    ),
    (
        '"${TW_TOKEN}"',
        '"${MISSING_TOKEN}"',
        "providers.tw.settings.auth_token",
        "environment variable MISSING_TOKEN is not set",
    ),
    (
        '"${TW_TOKEN}"',
        "literal-token",
        "providers.tw.settings.auth_token",
        "a secret must come from the environment",
    ),
    (
        "own_numbers:",
        "templates: {login: {en: 'no code here'}}\nown_numbers:",
        "templates.login.en",
        "has no {code}",
    ),
    (
        "own_numbers:",
        "templates: {login: {en: '{code} {oops'}}\nown_numbers:",
        "templates.login.en",
        "malformed template",
    ),
    (
        "own_numbers:",
        "templates: {login: {en: '{code} {pin}'}}\nown_numbers:",
        "templates.login.en",
        "unknown placeholder",
    ),
    ("a: {type: console", "a: {type: pigeon", "providers.a.type", "must be one of"),
    (
        "a: {type: console, channels: [sms]}",
        "a: {type: console, channels: [fax]}",
        "providers.a",
        "unknown channel",
    ),
    (
        "own_numbers:",
        "blocked_countries: [ZZ]\nown_numbers:",
        "blocked_countries",
        "unknown country code 'ZZ'",
    ),
    (
        "own_numbers:",
        "channel_fallbacks: {sms: sms}\nown_numbers:",
        "channel_fallbacks.sms",
        "cannot fall back to itself",
    ),
    ("own_numbers:", "surprise: 1\nown_numbers:", "surprise", "unknown key"),
]


@pytest.mark.parametrize(("old", "new", "key", "problem"), CASES)
def test_a_bad_routing_file_names_the_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    assert old in BASE
    path = tmp_path / "routing.yaml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(RoutingError) as caught:
        config.load(path, {"TW_TOKEN": "token-from-the-environment"})
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: ")
    assert problem in message


def test_bad_adapter_settings_stop_start_up(
    make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_TOKEN", "token-from-the-environment")
    path = tmp_path / "routing.yaml"
    path.write_text(BASE.replace(', from_number: "+15005550006"', ""))
    with pytest.raises(RoutingError, match=rf"^{path}: providers\.tw\.settings\."):
        make_app(OTP_ROUTING_FILE=str(path))


def test_the_base_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(BASE)
    routing = config.load(path, {"TW_TOKEN": "token-from-the-environment"})
    assert routing.scheduling["CN"].resources[0].provider == "a"
    assert routing.providers["tw"].settings["auth_token"] == "token-from-the-environment"
