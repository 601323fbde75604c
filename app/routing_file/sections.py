"""marshmallow schemas of the routing file's sections (the file itself: document.py).

Unknown keys are refused everywhere. Names the file declares elsewhere (providers, region
groups) are checked through the load's scope.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, post_load, validates_schema
from marshmallow.validate import OneOf, Range

from app.delivery import templates
from app.delivery.config import ConversionSettings, OwnNumber, Resource
from app.delivery.health import BreakerSettings
from app.delivery.providers import ADAPTERS

from . import scope
from .fields import (
    CountryOrDefault,
    Flag,
    Items,
    KeyedMap,
    Number,
    Part,
    Place,
    ProviderName,
    ProviderSettings,
    Text,
    Whole,
    channel_set,
)


class Section(Schema):
    """A mapping of the routing file: known keys only."""

    class Meta:
        unknown = RAISE

    error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "unknown": "unknown key",
        "type": "must be a mapping",
    }


class ProviderSchema(Section):
    """One entry of `providers:`; the adapter named by `type` checks `settings` when built."""

    kind = Text(
        data_key="type",
        required=True,
        validate=OneOf(sorted(ADAPTERS), error="must be one of {choices}"),
    )
    channels = channel_set(load_default=None)  # None: every channel its type serves
    settings = ProviderSettings(load_default=dict)
    cost = KeyedMap(keys=CountryOrDefault(), values=Number(), load_default=dict)
    quota_per_minute = Whole(1, allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def _served(self, data: dict[str, Any], **kwargs: Any) -> None:
        adapter, channels = ADAPTERS.get(data.get("kind", "")), data.get("channels")
        if adapter is None or channels is None:
            return
        if not channels:
            raise ValidationError("name at least one channel, or leave the key out", "channels")
        if not set(channels) <= adapter.serves:
            served = sorted(adapter.serves)
            raise ValidationError(f"a {adapter.kind} provider serves only {served}", "channels")

    @post_load
    def _channels(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        channels = data["channels"]
        served = ADAPTERS[data["kind"]].serves if channels is None else frozenset(channels)
        return {**data, "channels": served}


class ResourceSchema(Section):
    """A scheduling resource: a provider, its rank, and optionally some of its channels."""

    provider = ProviderName(required=True)
    priority = Whole(0, load_default=1)
    weight = Whole(1, load_default=1)
    channels = channel_set(load_default=None)  # None: every channel its provider serves

    @validates_schema(skip_on_field_errors=False)
    def _served(self, data: dict[str, Any], **kwargs: Any) -> None:
        provider, channels = data.get("provider", ""), data.get("channels")
        serves = scope.current().providers.get(provider)
        missing = sorted(set(channels or ()) - serves) if serves is not None else []
        if missing:
            raise ValidationError(f"{provider} does not serve {missing}", "channels")

    @post_load
    def _resource(self, data: dict[str, Any], **kwargs: Any) -> Resource:
        channels = data.pop("channels")
        return Resource(**data, channels=None if channels is None else frozenset(channels))


class CountrySchema(Section):
    """`scheduling.countries.<country or region group>`."""

    resources = Items(Part(ResourceSchema), load_default=list)
    use_own_numbers = Flag(metadata={"description": "default: scheduling.use_own_numbers"})
    strategy = Text(
        load_default="weights",
        validate=OneOf(["weights", "conversion"], error="must be weights or conversion"),
        metadata={"description": "the order within a priority: weights (and cost), or conversion"},
    )


class SchedulingSchema(Section):
    enabled = Flag(
        load_default=True,
        metadata={"description": "false: every country goes through its own numbers"},
    )
    use_own_numbers = Flag(load_default=True)
    countries = KeyedMap(keys=Place(), values=Part(CountrySchema), load_default=dict)


class OwnNumberSchema(Section):
    provider = ProviderName(required=True)
    sender = Text(allow_none=True, load_default=None)

    @post_load
    def _own_number(self, data: dict[str, Any], **kwargs: Any) -> OwnNumber:
        return OwnNumber(**data)


_BREAKER = BreakerSettings()


class BreakerSchema(Section):
    failures = Whole(1, load_default=_BREAKER.failures)
    ratio = Number(
        load_default=_BREAKER.ratio,
        metadata={"exclusiveMinimum": 0},
        validate=Range(0, 1, min_inclusive=False, error="must be a number above 0 and at most 1"),
    )
    min_calls = Whole(1, load_default=_BREAKER.min_calls)
    window = Whole(1, load_default=_BREAKER.window)
    cooldown = Whole(1, load_default=_BREAKER.cooldown)

    @post_load
    def _settings(self, data: dict[str, Any], **kwargs: Any) -> BreakerSettings:
        return BreakerSettings(**data)


_CONVERSION = ConversionSettings()


class ConversionSchema(Section):
    """`conversion:`: the conversion strategy's settings, for countries that choose it."""

    half_life = Number(
        load_default=_CONVERSION.half_life,
        validate=Range(0, min_inclusive=False, error="must be a number above 0"),
        metadata={"description": "seconds for a count to lose half its weight"},
    )
    max_sent = Number(
        load_default=_CONVERSION.max_sent,
        validate=Range(10, error="must be a number of at least 10"),
        metadata={"description": "sends the counts hold at most: beyond, both shrink"},
    )
    cost_weight = Number(
        load_default=_CONVERSION.cost_weight,
        validate=Range(0, 1, error="must be a number from 0 to 1"),
        metadata={"description": "conversion worth paying twice as much (0.05: 5 points)"},
    )
    min_share = Number(
        load_default=_CONVERSION.min_share,
        validate=Range(0, 0.5, error="must be a number from 0 to 0.5"),
        metadata={"description": "of the plans each healthy resource of a tier leads at least"},
    )
    cache_seconds = Number(
        load_default=_CONVERSION.cache_seconds,
        validate=Range(0, 300, error="must be a number from 0 to 300"),
    )

    @post_load
    def _settings(self, data: dict[str, Any], **kwargs: Any) -> ConversionSettings:
        return ConversionSettings(**data)


class TemplateText(Text):
    """A message text with {code} and only the known placeholders."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            templates.check(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        return text
