"""The routing file: providers, scheduling, own numbers, blocked countries, fallbacks.

Loaded and validated once at start-up; any problem stops start-up with a message naming the
file, the key and the problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from app.webhooks import config as webhook_config

from . import templates
from .health import BreakerSettings

CHANNELS = frozenset({"sms", "voice", "whatsapp", "email"})
PROVIDER_KINDS = frozenset(
    {"twilio", "sns", "aliyun", "tencent", "huawei", "http", "smtp", "console"}
)
# Channels an adapter type can serve at all (http serves whatever the user declares).
KIND_CHANNELS: dict[str, frozenset[str]] = {
    "twilio": frozenset({"sms", "whatsapp", "voice"}),
    "sns": frozenset({"sms"}),
    "aliyun": frozenset({"sms"}),
    "tencent": frozenset({"sms"}),
    "huawei": frozenset({"sms"}),
    "smtp": frozenset({"email"}),
    "http": CHANNELS,
    "console": CHANNELS,
}
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
# Settings whose values are credentials: they must come from the environment.
_SECRET_NAME = re.compile(r"secret|password|token|(^|_)key$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

DEVELOPMENT_ROUTING: dict[str, Any] = {
    "providers": {"console": {"type": "console", "channels": sorted(CHANNELS)}},
    "own_numbers": {"default": [{"provider": "console"}]},
}


class RoutingError(RuntimeError):
    """The routing file cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    kind: str
    channels: frozenset[str]
    settings: dict[str, Any]
    cost: dict[str, float] = field(default_factory=dict)
    quota_per_minute: int | None = None

    def cost_for(self, country: str) -> float | None:
        return self.cost.get(country, self.cost.get("default"))


@dataclass(frozen=True)
class Resource:
    provider: str
    priority: int = 1
    weight: int = 1
    channels: frozenset[str] | None = None  # None: every channel its provider serves


@dataclass(frozen=True)
class CountryScheduling:
    resources: tuple[Resource, ...]
    use_own_numbers: bool


@dataclass(frozen=True)
class OwnNumber:
    provider: str
    sender: str | None = None


@dataclass(frozen=True)
class RoutingConfig:
    source: str
    providers: dict[str, ProviderSpec]
    scheduling: dict[str, CountryScheduling]
    own_numbers: dict[str, tuple[OwnNumber, ...]]
    blocked: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None
    fallbacks: dict[str, str] = field(default_factory=dict)
    channels: frozenset[str] = CHANNELS
    templates: dict[str, dict[str, str]] = field(default_factory=dict)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    webhooks: tuple[webhook_config.Endpoint, ...] = ()


class _Reader:
    """Walks the parsed file, naming the key of every problem it finds."""

    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env

    def fail(self, key: str, problem: str) -> RoutingError:
        return RoutingError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        return value

    def items(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return value

    def integer(self, value: Any, key: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, f"must be a whole number of at least {low}")
        return value

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def country(self, code: Any, key: str) -> str:
        if not isinstance(code, str) or code.upper() not in COUNTRIES:
            raise self.fail(key, f"unknown country code {code!r}")
        return code.upper()

    def channel_set(self, value: Any, key: str) -> frozenset[str]:
        channels = frozenset(self.items(value, key))
        unknown = channels - CHANNELS
        if unknown:
            raise self.fail(key, f"unknown channel(s) {sorted(unknown)}")
        return channels

    def settings(self, value: Any, key: str) -> dict[str, Any]:
        """A provider's settings with ${VAR} references resolved; credentials must be one."""
        return {name: self.setting(name, item, f"{key}.{name}") for name, item in value.items()}

    def setting(self, name: str, value: Any, key: str, nested: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.setting(k, v, f"{key}.{k}", True) for k, v in value.items()}
        reference = _ENV_REF.match(value) if isinstance(value, str) else None
        if reference:
            variable = reference.group(1)
            if variable not in self.env:
                raise self.fail(key, f"environment variable {variable} is not set")
            return self.env[variable]
        # Nested mappings (templates per purpose, ...) hold no credentials of their own.
        if not nested and _SECRET_NAME.search(name.lower()) and value not in (None, ""):
            raise self.fail(key, "a secret must come from the environment, e.g. ${NAME}")
        return value


def load(path: Path | None, env: Mapping[str, str] | None = None) -> RoutingConfig:
    """Read and validate a routing file; None gives the development default (console only)."""
    env = os.environ if env is None else env
    if path is None:
        return parse(DEVELOPMENT_ROUTING, "<development default>", env)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingError(f"{path}: cannot read: {exc}") from exc
    return parse(raw, str(path), env)


def parse(raw: Any, source: str, env: Mapping[str, str]) -> RoutingConfig:
    reader = _Reader(source, env)
    doc = reader.mapping(raw, "(top level)")
    providers = _providers(reader, doc.get("providers"))
    channels = reader.channel_set(doc.get("channels", sorted(CHANNELS)), "channels")
    groups = _groups(reader, doc.get("regions"))
    config = RoutingConfig(
        source=source,
        providers=providers,
        scheduling=_scheduling(reader, doc.get("scheduling"), groups, providers),
        own_numbers=_own_numbers(reader, doc.get("own_numbers"), providers),
        blocked=_country_list(reader, doc.get("blocked_countries"), "blocked_countries", groups),
        allowed=_allowed(reader, doc.get("allowed_countries"), groups),
        fallbacks=_fallbacks(reader, doc.get("channel_fallbacks"), channels),
        channels=channels,
        templates=_templates(reader, doc.get("templates")),
        breaker=_breaker(reader, doc.get("breaker")),
        webhooks=_webhooks(reader, doc.get("webhooks")),
    )
    unknown = set(doc) - _TOP_LEVEL
    if unknown:
        raise reader.fail(sorted(unknown)[0], "unknown key")
    return config


_TOP_LEVEL = {
    "webhooks",
    "providers",
    "channels",
    "regions",
    "scheduling",
    "own_numbers",
    "blocked_countries",
    "allowed_countries",
    "channel_fallbacks",
    "templates",
    "breaker",
}


def _providers(reader: _Reader, raw: Any) -> dict[str, ProviderSpec]:
    providers = {}
    for name, entry in reader.mapping(raw, "providers").items():
        key = f"providers.{name}"
        entry = reader.mapping(entry, key)
        kind = entry.get("type")
        if kind not in PROVIDER_KINDS:
            raise reader.fail(f"{key}.type", f"must be one of {sorted(PROVIDER_KINDS)}")
        channels = reader.channel_set(entry.get("channels", sorted(KIND_CHANNELS[kind])), key)
        if not channels or not channels <= KIND_CHANNELS[kind]:
            raise reader.fail(
                f"{key}.channels", f"a {kind} provider serves only {sorted(KIND_CHANNELS[kind])}"
            )
        settings = reader.settings(reader.mapping(entry.get("settings"), key), f"{key}.settings")
        cost = {
            k if k == "default" else reader.country(k, f"{key}.cost.{k}"): float(v)
            for k, v in reader.mapping(entry.get("cost"), f"{key}.cost").items()
        }
        quota = entry.get("quota_per_minute")
        if quota is not None:
            quota = reader.integer(quota, f"{key}.quota_per_minute", 1)
        providers[name] = ProviderSpec(name, kind, channels, settings, cost, quota)
    if not providers:
        raise reader.fail("providers", "at least one provider is needed")
    return providers


def _groups(reader: _Reader, raw: Any) -> dict[str, frozenset[str]]:
    groups = {}
    for name, members in reader.mapping(raw, "regions").items():
        key = f"regions.{name}"
        groups[name] = frozenset(reader.country(c, key) for c in reader.items(members, key))
    return groups


def _expand(reader: _Reader, name: Any, key: str, groups: dict[str, frozenset[str]]) -> list[str]:
    if name in groups:
        return sorted(groups[name])
    return [reader.country(name, key)]


def _country_list(
    reader: _Reader, raw: Any, key: str, groups: dict[str, frozenset[str]]
) -> frozenset[str]:
    return frozenset(
        c for name in reader.items(raw, key) for c in _expand(reader, name, key, groups)
    )


def _allowed(reader: _Reader, raw: Any, groups: dict[str, frozenset[str]]) -> frozenset[str] | None:
    return None if raw is None else _country_list(reader, raw, "allowed_countries", groups)


def _resource(reader: _Reader, raw: Any, key: str, providers: dict[str, ProviderSpec]) -> Resource:
    entry = reader.mapping(raw, key)
    provider = entry.get("provider")
    if provider not in providers:
        raise reader.fail(f"{key}.provider", f"unknown provider {provider!r}")
    priority = reader.integer(entry.get("priority", 1), f"{key}.priority")
    weight = reader.integer(entry.get("weight", 1), f"{key}.weight", 1)
    channels = None
    if "channels" in entry:
        channels = reader.channel_set(entry["channels"], f"{key}.channels")
        missing = channels - providers[provider].channels
        if missing:
            raise reader.fail(f"{key}.channels", f"{provider} does not serve {sorted(missing)}")
    return Resource(provider, priority, weight, channels)


def _scheduling(
    reader: _Reader, raw: Any, groups: dict[str, frozenset[str]], providers: dict[str, ProviderSpec]
) -> dict[str, CountryScheduling]:
    section = reader.mapping(raw, "scheduling")
    default_switch = reader.flag(section.get("use_own_numbers", True), "scheduling.use_own_numbers")
    entries = reader.mapping(section.get("countries"), "scheduling.countries")
    # Region groups first, so a country named on its own overrides its group.
    ordered = sorted(entries.items(), key=lambda item: item[0] not in groups)
    scheduling: dict[str, CountryScheduling] = {}
    for name, entry in ordered:
        key = f"scheduling.countries.{name}"
        entry = reader.mapping(entry, key)
        resources = tuple(
            _resource(reader, r, f"{key}.resources[{i}]", providers)
            for i, r in enumerate(reader.items(entry.get("resources"), key))
        )
        switch = reader.flag(entry.get("use_own_numbers", default_switch), f"{key}.use_own_numbers")
        for country in _expand(reader, name, key, groups):
            scheduling[country] = CountryScheduling(resources, switch)
    return scheduling


def _own_numbers(
    reader: _Reader, raw: Any, providers: dict[str, ProviderSpec]
) -> dict[str, tuple[OwnNumber, ...]]:
    own: dict[str, tuple[OwnNumber, ...]] = {}
    for name, entries in reader.mapping(raw, "own_numbers").items():
        key = f"own_numbers.{name}"
        country = "default" if name == "default" else reader.country(name, key)
        numbers = []
        for i, entry in enumerate(reader.items(entries, key)):
            entry = reader.mapping(entry, f"{key}[{i}]")
            if entry.get("provider") not in providers:
                raise reader.fail(
                    f"{key}[{i}].provider", f"unknown provider {entry.get('provider')!r}"
                )
            numbers.append(OwnNumber(entry["provider"], entry.get("sender")))
        own[country] = tuple(numbers)
    return own


def _fallbacks(reader: _Reader, raw: Any, channels: frozenset[str]) -> dict[str, str]:
    fallbacks = {}
    for source, target in reader.mapping(raw, "channel_fallbacks").items():
        key = f"channel_fallbacks.{source}"
        reader.channel_set([source, target], key)
        if source == target:
            raise reader.fail(key, "a channel cannot fall back to itself")
        fallbacks[source] = target
    return fallbacks


def _templates(reader: _Reader, raw: Any) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for purpose, locales in reader.mapping(raw, "templates").items():
        for locale, text in reader.mapping(locales, f"templates.{purpose}").items():
            try:
                templates.check(text if isinstance(text, str) else "")
            except ValueError as exc:
                raise reader.fail(f"templates.{purpose}.{locale}", str(exc)) from exc
            texts.setdefault(purpose, {})[locale] = text
    return texts


def _breaker(reader: _Reader, raw: Any) -> BreakerSettings:
    section = reader.mapping(raw, "breaker")
    defaults = BreakerSettings()
    values: dict[str, Any] = {}
    for name in ("failures", "min_calls", "window", "cooldown"):
        values[name] = reader.integer(
            section.get(name, getattr(defaults, name)), f"breaker.{name}", 1
        )
    ratio = section.get("ratio", defaults.ratio)
    if not isinstance(ratio, int | float) or not 0 < ratio <= 1:
        raise reader.fail("breaker.ratio", "must be a number above 0 and at most 1")
    return BreakerSettings(ratio=float(ratio), **values)


def _webhooks(reader: _Reader, raw: Any) -> tuple[webhook_config.Endpoint, ...]:
    """Business-system webhooks, ${VAR} resolved; their secrets only from the environment."""
    entries = []
    for i, entry in enumerate(reader.items(raw, "webhooks")):
        if isinstance(entry, dict):
            entry = {
                # The rotation's end is a date, though its name contains "secret".
                name: reader.setting(
                    "until" if name == "previous_secret_until" else name,
                    value,
                    f"webhooks[{i}].{name}",
                )
                for name, value in entry.items()
            }
        entries.append(entry)
    return tuple(webhook_config.parse(entries, reader.source))
