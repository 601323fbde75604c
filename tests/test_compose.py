"""compose.yaml starts as documented: one image, credentials from .env, the example routing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import routing_file
from app.delivery.providers.base import ProviderContext
from app.routing_file import RoutingError

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = {name: service for name, service in SERVICES.items() if name != "redis"}


def env_example_names() -> list[str]:
    """The variables .env.example sets, in order."""
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE)


def routing_mount() -> tuple[Path, str]:
    """The routing file mounted by default (on this machine) and where the service reads it."""
    (volume,) = OURS["web"]["volumes"]
    source, target, _ = re.fullmatch(r"\$\{\w+:-(.+)\}:(.+):(ro)", volume).groups()  # type: ignore[union-attr]
    return ROOT / source, target


def test_web_and_worker_run_one_image_built_once() -> None:
    assert set(OURS) == {"web", "worker"}
    assert len({service["image"] for service in OURS.values()}) == 1
    assert [name for name, service in OURS.items() if "build" in service] == ["web"]


def test_every_env_file_exists_or_is_made_from_its_committed_example() -> None:
    ignored = {
        name: (ROOT / name).read_text().splitlines() for name in (".gitignore", ".dockerignore")
    }
    for service in OURS.values():
        env_file = ROOT / service["env_file"]
        if not env_file.exists():
            assert env_file.with_name(env_file.name + ".example").exists(), env_file
            for name, lines in ignored.items():
                assert env_file.name in lines, f"{env_file.name} not in {name}"


def test_the_example_routing_file_is_mounted_where_the_service_reads_it() -> None:
    source, target = routing_mount()
    assert source == ROOT / "routing.example.yaml"
    for service in OURS.values():
        assert service["environment"]["OTP_ROUTING_FILE"] == target


def test_env_example_names_exactly_the_variables_of_the_routing_file() -> None:
    source, _ = routing_mount()
    code = [line.split("#")[0] for line in source.read_text().splitlines()]
    named = set(re.findall(r"\$\{(\w+)\}", "\n".join(code)))
    assert named == set(env_example_names())
    assert all(value == "" for value in _env_example_values())


def _env_example_values() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^[A-Z][A-Z0-9_]*=(.*)$", text, re.MULTILINE)


def test_the_example_routing_file_starts_given_the_variables_it_names() -> None:
    source, _ = routing_mount()
    env = {name: "x" * 24 for name in env_example_names()}
    loaded = routing_file.load(source, ProviderContext(), env)
    routing = loaded.routing
    assert set(loaded.providers) == set(routing.providers)
    assert routing.scheduling["CN"].use_own_numbers is False
    assert routing.scheduling["DE"].resources[0].provider == "sns"


@pytest.mark.parametrize("blank", env_example_names())
def test_a_blank_credential_stops_start_up_naming_its_setting(blank: str) -> None:
    source, _ = routing_mount()
    env = {name: "x" * 24 for name in env_example_names()} | {blank: ""}
    setting = re.search(rf"^ +(\w+): \$\{{{blank}\}}", source.read_text(), re.MULTILINE)
    assert setting
    with pytest.raises(RoutingError, match=rf"settings\.{setting.group(1)}: "):
        routing_file.load(source, ProviderContext(), env)
