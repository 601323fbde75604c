"""The configuration is checked without serving: `flask otp check` and gunicorn's start-up
list every problem once, one line each, with no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from app import cli
from app.routing_file import json_schema
from app.settings import SettingsError
from app.verification.tokens import generate_pem

from .conftest import ROOT, free_port

FIVE_MISTAKES = """
providers:
  a: {type: console, channels: [sms]}
  tw: {type: twilio, settings: {account_sid: AC1, auth_token: "${TW_TOKEN}"}}
scheduling:
  enable: false
  countries:
    CN: {resources: [{provider: x}]}
own_numbers: {default: [{provider: a}]}
templates: {login: {en: "no code here"}}
breaker: {ratio: 2}
"""
# Nothing may connect to Redis: this one would refuse.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def five_mistakes(path: Path) -> list[str]:
    path.write_text(FIVE_MISTAKES)
    return [
        f"{path}: scheduling.countries.CN.resources[0].provider: unknown provider 'x'",
        f"{path}: scheduling.enable: unknown key",
        f"{path}: templates.login.en: template 'no code here' has no {{code}}",
        f"{path}: breaker.ratio: must be a number above 0 and at most 1",
        f"{path}: providers.tw.settings.from_number: set from_number or messaging_service_sid",
    ]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Development mode, data under the test's directory, an unreachable Redis."""
    base = {**os.environ, "OTP_ENV": "development", "OTP_DATA_DIR": str(tmp_path)}
    return {**base, "REDIS_URL": UNREACHABLE_REDIS, "TW_TOKEN": "token-from-env", **extra}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_lists_each_mistake_on_a_line(tmp_path: Path) -> None:
    expected = five_mistakes(tmp_path / "routing.yaml")
    env = environment(tmp_path, OTP_ROUTING_FILE=str(tmp_path / "routing.yaml"))
    result = run([sys.executable, "-m", "flask", "--app", "wsgi", "otp", "check"], env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == expected
    assert "Traceback" not in result.stderr


def test_gunicorn_reports_each_mistake_once_and_starts_nothing(tmp_path: Path) -> None:
    expected = five_mistakes(tmp_path / "routing.yaml")
    env = environment(tmp_path, OTP_ROUTING_FILE=str(tmp_path / "routing.yaml"))
    bind = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2", "-b", bind]
    result = run([*command, "wsgi:app"], env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for line in expected:
        assert output.count(line) == 1, (line, output)
    assert "Traceback" not in output
    assert "Booting worker" not in output
    assert "Worker failed to boot" not in output


def test_commands_are_listed_with_no_configuration_at_all() -> None:
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    result = run([sys.executable, "-m", "flask", "--app", "wsgi", "otp", "--help"], bare)
    assert result.returncode == 0, result.stderr
    for command in ("check", "route", "schema", "worker"):
        assert f"  {command} " in result.stdout
    assert "Traceback" not in result.stderr


def test_a_command_needing_the_app_lists_the_problems_instead(tmp_path: Path) -> None:
    expected = five_mistakes(tmp_path / "routing.yaml")
    env = environment(tmp_path, OTP_ROUTING_FILE=str(tmp_path / "routing.yaml"))
    result = run([sys.executable, "-m", "flask", "--app", "wsgi", "otp", "route", "+1500"], env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == expected


def check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """`flask otp check` in this process, with these environment variables."""
    for name, value in environment(tmp_path, **env).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.otp, ["check"])
    return result.exit_code, result.output.splitlines()


def test_check_says_ok_for_a_good_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, lines = check(monkeypatch, tmp_path, OTP_ROUTING_FILE="tests/routing.yaml")
    assert (code, lines) == (
        0,
        [
            "ok: settings, routing file tests/routing.yaml "
            "(providers: 12, 18 countries with scheduling, webhooks: 0)"
        ],
    )
    assert list(tmp_path.iterdir()) == []  # no embedded Redis started, no secrets made


def test_check_builds_adapters_that_keep_a_redis_client_without_reaching_redis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "providers:\n"
        "  wc:\n"
        "    type: wecom\n"
        "    settings: {corp_id: ww1, corp_secret: '${WECOM_SECRET}', agent_id: 1000002}\n"
    )
    code, lines = check(monkeypatch, tmp_path, OTP_ROUTING_FILE=str(routing), WECOM_SECRET="s" * 20)
    assert (code, lines) == (
        0,
        [
            f"ok: settings, routing file {routing} "
            "(providers: 1, 0 countries with scheduling, webhooks: 0)"
        ],
    )


def test_a_bad_signing_key_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    production = {
        "OTP_ENV": "production",
        "OTP_SECRET": "s" * 40,
        "OTP_ROUTING_FILE": "tests/routing.yaml",
    }
    problem = "OTP_SIGNING_KEY: must be an Ed25519 private key in PEM (Unable to load PEM file"
    code, lines = check(monkeypatch, tmp_path, **production, OTP_SIGNING_KEY="not a key")
    assert code == 1
    [line] = lines
    assert line.startswith(problem)
    with pytest.raises(SettingsError) as caught:
        make_app(OTP_SIGNING_KEY="-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----")
    assert caught.value.problems[0].startswith(problem)
    code, lines = check(monkeypatch, tmp_path, **production, OTP_SIGNING_KEY=generate_pem())
    assert code == 0
    assert lines[0].startswith("ok: settings, signing key, routing file")


def test_check_lists_settings_and_routing_problems_together(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = five_mistakes(tmp_path / "routing.yaml")
    code, lines = check(
        monkeypatch, tmp_path, OTP_TTL="601", OTP_ROUTING_FILE=str(tmp_path / "routing.yaml")
    )
    assert code == 1
    assert lines == ["OTP_TTL='601': must be between 1 and 600", *expected]


def test_schema_command_prints_the_json_schema() -> None:
    result = CliRunner().invoke(cli.otp, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json_schema.document()
