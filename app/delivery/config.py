"""The routing file: providers, scheduling, own numbers, blocked countries, fallbacks.

Loaded and validated once at start-up; any problem stops start-up with a message naming the
file, the key and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.webhooks import config as webhook_config

from . import templates
from .health import BreakerSettings
from .reader import CHANNELS, Reader, RoutingError

PROVIDER_KINDS = frozenset(
    {"twilio", "sns", "aliyun", "tencent", "huawei", "http", "smtp", "console"}
    | {"cams", "tencent_voice", "cmsi"}
    | {"wecom", "wechat_mp"}
)
# Channels an adapter type can serve at all (http serves whatever the user declares).
KIND_CHANNELS: dict[str, frozenset[str]] = {
    "twilio": frozenset({"sms", "whatsapp", "voice"}),
    "sns": frozenset({"sms"}),
    "aliyun": frozenset({"sms"}),
    "tencent": frozenset({"sms"}),
    "huawei": frozenset({"sms"}),
    "smtp": frozenset({"email"}),
    "cams": frozenset({"whatsapp"}),
    "tencent_voice": frozenset({"voice"}),
    "cmsi": frozenset({"sms", "voice", "email", "wechat"}),
    "wecom": frozenset({"wechat"}),
    "wechat_mp": frozenset({"wechat"}),
    "http": CHANNELS,
    "console": CHANNELS,
}

DEVELOPMENT_ROUTING: dict[str, Any] = {
    "providers": {"console": {"type": "console", "channels": sorted(CHANNELS)}},
    "own_numbers": {"default": [{"provider": "console"}]},
}


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
    reader = Reader(source, env)
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


def _providers(reader: Reader, raw: Any) -> dict[str, ProviderSpec]:
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


def _groups(reader: Reader, raw: Any) -> dict[str, frozenset[str]]:
    groups = {}
    for name, members in reader.mapping(raw, "regions").items():
        key = f"regions.{name}"
        groups[name] = frozenset(reader.country(c, key) for c in reader.items(members, key))
    return groups


def _expand(reader: Reader, name: Any, key: str, groups: dict[str, frozenset[str]]) -> list[str]:
    if name in groups:
        return sorted(groups[name])
    return [reader.country(name, key)]


def _country_list(
    reader: Reader, raw: Any, key: str, groups: dict[str, frozenset[str]]
) -> frozenset[str]:
    return frozenset(
        c for name in reader.items(raw, key) for c in _expand(reader, name, key, groups)
    )


def _allowed(reader: Reader, raw: Any, groups: dict[str, frozenset[str]]) -> frozenset[str] | None:
    return None if raw is None else _country_list(reader, raw, "allowed_countries", groups)


def _resource(reader: Reader, raw: Any, key: str, providers: dict[str, ProviderSpec]) -> Resource:
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
    reader: Reader, raw: Any, groups: dict[str, frozenset[str]], providers: dict[str, ProviderSpec]
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
    reader: Reader, raw: Any, providers: dict[str, ProviderSpec]
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


def _fallbacks(reader: Reader, raw: Any, channels: frozenset[str]) -> dict[str, str]:
    fallbacks = {}
    for source, target in reader.mapping(raw, "channel_fallbacks").items():
        key = f"channel_fallbacks.{source}"
        reader.channel_set([source, target], key)
        if source == target:
            raise reader.fail(key, "a channel cannot fall back to itself")
        fallbacks[source] = target
    return fallbacks


def _templates(reader: Reader, raw: Any) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for purpose, locales in reader.mapping(raw, "templates").items():
        for locale, text in reader.mapping(locales, f"templates.{purpose}").items():
            try:
                templates.check(text if isinstance(text, str) else "")
            except ValueError as exc:
                raise reader.fail(f"templates.{purpose}.{locale}", str(exc)) from exc
            texts.setdefault(purpose, {})[locale] = text
    return texts


def _breaker(reader: Reader, raw: Any) -> BreakerSettings:
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


def _webhooks(reader: Reader, raw: Any) -> tuple[webhook_config.Endpoint, ...]:
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
