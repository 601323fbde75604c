"""The routing file as a whole: its top-level schema, and the plain data it loads into."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from marshmallow import ValidationError, post_load, validates

from app.delivery.config import CountryScheduling, ProviderSpec, RoutingConfig
from app.delivery.providers.base import CHANNELS
from app.guard.config import GuardConfig
from app.webhooks.config import Endpoint

from . import scope
from .fields import (
    Channel,
    Country,
    CountryOrDefault,
    Domain,
    Items,
    KeyedMap,
    NameSet,
    Part,
    Place,
    Purpose,
    Text,
    channel_set,
)
from .guard import FraudGuardSchema
from .sections import (
    BreakerSchema,
    ConversionSchema,
    OwnNumberSchema,
    ProviderSchema,
    SchedulingSchema,
    Section,
    TemplateText,
)
from .webhooks import Endpoints

_NO_PROVIDER = "at least one provider is needed"


def _some(providers: dict[str, Any]) -> None:
    if not providers:
        raise ValidationError(_NO_PROVIDER)


class AllowList(NameSet):
    """`allowed_countries`: absent or null means no allow-list, not an empty one."""

    empty = None


@dataclass(frozen=True)
class Document:
    """What one routing file configures."""

    routing: RoutingConfig
    webhooks: tuple[Endpoint, ...]
    guard: GuardConfig = field(default_factory=GuardConfig)


class RoutingFileSchema(Section):
    """The whole file."""

    regions = KeyedMap(keys=Text(), values=NameSet(Country()), load_default=dict)
    providers = KeyedMap(
        keys=Text(),
        values=Part(ProviderSchema),
        required=True,
        validate=_some,
        error_messages={"required": _NO_PROVIDER},
        metadata={"minProperties": 1},
    )
    channels = channel_set(load_default=lambda: sorted(CHANNELS))
    scheduling = Part(SchedulingSchema, load_default=lambda: SchedulingSchema().load({}))
    own_numbers = KeyedMap(
        keys=CountryOrDefault(), values=Items(Part(OwnNumberSchema)), load_default=dict
    )
    blocked_countries = NameSet(Place(), load_default=list)
    allowed_countries = AllowList(Place(), load_default=None)
    channel_fallbacks = KeyedMap(keys=Channel(), values=Channel(), load_default=dict)
    templates = KeyedMap(
        keys=Text(), values=KeyedMap(keys=Text(), values=TemplateText()), load_default=dict
    )
    webotp = KeyedMap(
        keys=Purpose(),
        values=Domain(allow_none=True),
        load_default=dict,
        metadata={"description": "purpose -> the domain of its `@domain #code` line, or null"},
    )
    breaker = Part(BreakerSchema, load_default=lambda: BreakerSchema().load({}))
    webhooks = Endpoints(load_default=list)
    conversion = Part(ConversionSchema, load_default=lambda: ConversionSchema().load({}))
    fraud_guard = Part(FraudGuardSchema, load_default=GuardConfig)

    @validates("channel_fallbacks")
    def _no_loop(self, value: dict[str, str], **kwargs: Any) -> None:
        loops = {
            source: ["a channel cannot fall back to itself"]
            for source, target in value.items()
            if source == target
        }
        if loops:
            raise ValidationError(loops)

    @post_load
    def _document(self, data: dict[str, Any], **kwargs: Any) -> Document:
        regions, allowed = Regions(data["regions"]), data["allowed_countries"]
        routing = RoutingConfig(
            source=scope.current().source,
            providers={name: spec(name, entry) for name, entry in data["providers"].items()},
            scheduling=regions.scheduling(data["scheduling"]),
            own_numbers={key: tuple(numbers) for key, numbers in data["own_numbers"].items()},
            blocked=regions.countries(data["blocked_countries"]),
            allowed=None if allowed is None else regions.countries(allowed),
            fallbacks=data["channel_fallbacks"],
            channels=frozenset(data["channels"]),
            templates=data["templates"],
            webotp=data["webotp"],
            breaker=data["breaker"],
            scheduling_enabled=data["scheduling"]["enabled"],
            conversion=data["conversion"],
        )
        guard = data["fraud_guard"]
        guard = replace(guard, countries=regions.each(guard.countries))
        return Document(routing, tuple(data["webhooks"]), guard)


def spec(name: str, entry: dict[str, Any]) -> ProviderSpec:
    """A provider entry as loaded by ProviderSchema."""
    return ProviderSpec(
        name=name,
        kind=entry["kind"],
        channels=entry["channels"],
        settings=entry["settings"],
        cost=entry["cost"],
        quota_per_minute=entry["quota_per_minute"],
    )


class Regions:
    """Region groups, usable wherever a country code is."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups

    def expand(self, name: str) -> list[str]:
        return sorted(self.groups[name]) if name in self.groups else [name]

    def countries(self, names: list[str]) -> frozenset[str]:
        return frozenset(country for name in names for country in self.expand(name))

    def scheduling(self, section: dict[str, Any]) -> dict[str, CountryScheduling]:
        """Scheduling per country; a country named on its own overrides its region group."""
        scheduling = {}
        for name, entry in self._groups_first(section["countries"]):
            switch = entry.get("use_own_numbers", section["use_own_numbers"])
            for country in self.expand(name):
                resources = tuple(entry["resources"])
                scheduling[country] = CountryScheduling(resources, switch, entry["strategy"])
        return scheduling

    def each(self, by_place: dict[str, str]) -> dict[str, str]:
        """A value per country from one per country or group; a country beats its group."""
        return {
            country: value
            for name, value in self._groups_first(by_place)
            for country in self.expand(name)
        }

    def _groups_first(self, by_place: dict[str, Any]) -> list[tuple[str, Any]]:
        return sorted(by_place.items(), key=lambda item: item[0] not in self.groups)
