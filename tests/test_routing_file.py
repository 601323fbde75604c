"""The routing file is validated at start-up: every problem names the file, the key, the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask

from app import routing_file
from app.batch import Batch
from app.delivery.health import BreakerSettings
from app.delivery.providers import ADAPTERS
from app.delivery.providers.base import CHANNELS, ProviderContext
from app.delivery.providers.console import Outbox
from app.routing_file import RoutingError, json_schema

from .conftest import ROOT
from .providers import standins

BASE = """
providers:
  a: {type: console, channels: [sms]}
  tw:
    type: twilio
    channels: [sms, voice]
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
        "providers.a.channels",
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
        routing_file.load(path, ProviderContext(), {"TW_TOKEN": "token-from-the-environment"})
    [line] = caught.value.problems  # one mistake, one line
    assert line.startswith(f"{path}: {key}: ")
    assert problem in line


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
    routing = routing_file.load(
        path, ProviderContext(), {"TW_TOKEN": "token-from-the-environment"}
    ).routing
    assert routing.scheduling["CN"].resources[0].provider == "a"
    assert routing.providers["tw"].settings["auth_token"] == "token-from-the-environment"


def problems(path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines a routing file with `text` is refused with; [] when it loads."""
    path.write_text(text)
    try:
        routing_file.load(path, ProviderContext(), env or {})
    except RoutingError as exc:
        return exc.problems
    return []


def test_every_problem_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    found = problems(
        path,
        """
providers:
  a: {type: console, channels: [sms]}
  tw: {type: twilio, settings: {account_sid: AC1, auth_token: "${TOKEN}"}}
  hw: {type: huawei, settings: {endpoint: "https://h.example", app_key: "${HW_KEY}"}}
regions: {EU: [DE, XX]}
scheduling:
  countries:
    EU: {resources: [{provider: a, priority: -1}]}
    CN: {resources: [{provider: ghost}, {provider: a, channels: [voice]}]}
own_numbers: {default: [{provider: a, sender: ACME, pool: 2}]}
breaker: {ratio: 2}
""",
        {"TOKEN": "token-from-the-environment", "HW_KEY": "key-from-the-environment"},
    )
    assert found == [
        f"{path}: regions.EU: unknown country code 'XX'",
        f"{path}: scheduling.countries.EU.resources[0].priority: "
        "must be a whole number of at least 0",
        f"{path}: scheduling.countries.CN.resources[0].provider: unknown provider 'ghost'",
        f"{path}: scheduling.countries.CN.resources[1].channels: a does not serve ['voice']",
        f"{path}: own_numbers.default[0].pool: unknown key",
        f"{path}: breaker.ratio: must be a number above 0 and at most 1",
        # Each adapter checks its own settings, whatever else is wrong in the file.
        f"{path}: providers.tw.settings.from_number: set from_number or messaging_service_sid",
        f"{path}: providers.hw.settings.app_secret: is required",
    ]


def test_an_sdk_refusing_a_setting_is_reported_as_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    settings = "{access_key_id: '${K}', secret_access_key: '${K}', region: 'not a region!'}"
    [line] = problems(path, f"providers: {{s: {{type: sns, settings: {settings}}}}}\n", {"K": "k"})
    assert line.startswith(f"{path}: providers.s.settings: ")
    assert "'not a region!'" in line


def test_a_file_that_is_not_yaml_is_named_with_the_place_it_breaks(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    assert problems(path, "providers:\n  a: {type: console\n") == [
        f"{path}: line 3, column 1: not YAML: expected ',' or '}}', but got '<stream end>'"
    ]
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RoutingError) as caught:
        routing_file.load(missing, ProviderContext(), {})
    [line] = caught.value.problems
    assert line.startswith(f"{missing}: cannot read: [Errno 2]")


MINIMAL = "providers: {c: {type: console}}\nown_numbers: {default: [{provider: c}]}\n"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL + "surprise: 1\n", "surprise"),
        ("providers: {c: {type: console, priority: 1}}\n", "providers.c.priority"),
        (MINIMAL + "scheduling: {enable: false}\n", "scheduling.enable"),
        (
            MINIMAL + "scheduling: {countries: {US: {resource: []}}}\n",
            "scheduling.countries.US.resource",
        ),
        (
            MINIMAL + "scheduling: {countries: {US: {resources: [{provider: c, wieght: 2}]}}}\n",
            "scheduling.countries.US.resources[0].wieght",
        ),
        (MINIMAL.replace("{provider: c}", "{provider: c, from: x}"), "own_numbers.default[0].from"),
        (MINIMAL + "breaker: {cooldown_seconds: 5}\n", "breaker.cooldown_seconds"),
        (
            MINIMAL + "webhooks: [{url: 'https://b.example', events: [delivery.failed], "
            "secret: '${HOOK_SECRET}', retries: 3}]\n",
            "webhooks[0].retries",
        ),
    ],
)
def test_unknown_keys_are_refused_everywhere(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "routing.yaml"
    found = problems(path, text, {"HOOK_SECRET": "s" * 20})
    assert found == [f"{path}: {key}: unknown key"]


@pytest.mark.parametrize(
    ("kind", "channels"),
    [
        ("aliyun", "[sms, voice]"),
        ("tencent", "[voice]"),
        ("huawei", "[email]"),
        ("sns", "[sms, voice]"),
        ("smtp", "[sms]"),
        ("twilio", "[email]"),
        ("cams", "[whatsapp, sms]"),
        ("tencent_voice", "[sms]"),
        ("cmsi", "[whatsapp]"),
        ("wecom", "[sms]"),
        ("wechat_mp", "[voice]"),
    ],
)
def test_a_channel_its_type_cannot_serve_is_refused(
    tmp_path: Path, kind: str, channels: str
) -> None:
    path = tmp_path / "routing.yaml"
    found = problems(path, f"providers: {{p: {{type: {kind}, channels: {channels}}}}}\n")
    served = sorted(ADAPTERS[kind].serves)
    assert found == [f"{path}: providers.p.channels: a {kind} provider serves only {served}"]
    empty = problems(path, f"providers: {{p: {{type: {kind}, channels: []}}}}\n")
    assert empty == [
        f"{path}: providers.p.channels: name at least one channel, or leave the key out"
    ]


def test_http_and_console_serve_every_channel(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "providers:\n"
        "  c: {type: console, channels: [sms, voice, whatsapp, email, wechat]}\n"
        "  h:\n"
        "    type: http\n"
        "    channels: [sms, voice, whatsapp, email, wechat]\n"
        "    settings: {url: 'https://gw.example/send', secret: '${GW_SECRET}'}\n"
    )
    loaded = routing_file.load(path, ProviderContext(), {"GW_SECRET": "s" * 20})
    assert loaded.providers["c"].channels == loaded.providers["h"].channels == CHANNELS
    assert ADAPTERS["http"].serves == ADAPTERS["console"].serves == CHANNELS


def test_sections_left_empty_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(MINIMAL + "scheduling:\nbreaker:\ntemplates:\nallowed_countries:\n")
    routing = routing_file.load(path, ProviderContext(), {}).routing
    assert routing.scheduling_enabled is True
    assert routing.scheduling == {}
    assert routing.breaker == BreakerSettings()
    assert routing.allowed is None  # no allow-list, not an empty one


def test_the_console_adapter_keeps_messages_in_the_context_outbox(redis_client: Any) -> None:
    outbox = Outbox(redis_client)
    doc = {"providers": {"c": {"type": "console"}}}
    loaded = routing_file.parse(doc, "routing.yaml", ProviderContext(outbox=outbox), {})
    result = loaded.providers["c"].send(standins.message(to="+15005550006"))
    assert outbox.messages() == []  # the entry rides the caller's batch, with the send's records
    assert result.writes is not None
    batch = Batch(redis_client)
    result.writes(batch)
    batch.execute()
    assert [entry["to"] for entry in outbox.messages()] == ["+15005550006"]


def test_the_json_schema_accepts_the_shipped_example_and_refuses_mistakes() -> None:
    schema = json_schema.document()
    validator = jsonschema.Draft7Validator(schema)
    validator.check_schema(schema)
    example = yaml.safe_load((ROOT / "routing.example.yaml").read_text())
    assert list(validator.iter_errors(example)) == []
    assert validator.is_valid(yaml.safe_load((ROOT / "tests" / "routing.yaml").read_text()))
    for mistake in (
        {"scheduling": {**example["scheduling"], "enable": False}},
        {"providers": {"x": {"type": "pigeon"}}},
        {"channels": ["sms", "fax"]},
        {"breaker": {"ratio": 0}},
        {"own_numbers": {"Mars": []}},
        {"webhooks": [{"url": "https://b.example", "events": [], "secret": "${S}"}]},
    ):
        assert not validator.is_valid({**example, **mistake}), mistake


def test_the_documentation_names_every_key_and_type() -> None:
    text = (ROOT / "docs" / "routing-file.md").read_text()
    schema = json_schema.document()
    keys = set(schema["properties"]).union(
        *(definition["properties"] for definition in schema["definitions"].values())
    )
    assert [name for name in sorted({*keys, *ADAPTERS}) if f"`{name}`" not in text] == []
