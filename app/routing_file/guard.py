"""The `fraud_guard:` section: modes per country, adaptive limits, blocks, the bot check."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, post_load, validates
from marshmallow.validate import Length, OneOf, Range

from app.guard.bot_check import PROVIDERS
from app.guard.config import (
    MODES,
    AddressRules,
    BotCheckConfig,
    CountryRules,
    GuardConfig,
    PrefixRules,
    Rule,
)

from .fields import (
    EnvText,
    Items,
    KeyedMap,
    NameSet,
    Number,
    Part,
    Place,
    Text,
    Whole,
    http_url,
)
from .sections import Section

_NUMBER_START = re.compile(r"^\+[0-9]{1,15}$")
_AT_LEAST_ZERO = Range(min=0, error="must be a number of at least 0")


def _mode(**kwargs: Any) -> Text:
    return Text(validate=OneOf(MODES, error=f"must be one of {list(MODES)}"), **kwargs)


def _rule(name: str, default: Rule, baseline: str) -> type[Section]:
    """The schema of one window's limit, with that window's defaults."""
    fields = {
        "floor": Number(load_default=default.floor, validate=_AT_LEAST_ZERO),
        "factor": Number(
            load_default=default.factor,
            validate=_AT_LEAST_ZERO,
            metadata={"description": f"times {baseline}"},
        ),
        "_rule": post_load(lambda self, data, **kwargs: Rule(**data)),
    }
    return type(f"{name}Schema", (Section,), fields)


_PREFIX, _COUNTRY, _ADDRESS = PrefixRules(), CountryRules(), AddressRules()
_VERIFIED_HOUR = "the country's verified sends in the hour"
PrefixHour = _rule("PrefixHour", _PREFIX.hour, _VERIFIED_HOUR)
PrefixDay = _rule("PrefixDay", _PREFIX.day, "the country's verified sends in the day")
_BUSIEST_HOUR = "the country's verified sends in the hour, or a 24th of its best day if more"
CountryHour = _rule("CountryHour", _COUNTRY.hour, _BUSIEST_HOUR)
CountryDay = _rule("CountryDay", _COUNTRY.day, "the country's best verified day in the baseline")
AddressHour = _rule("AddressHour", _ADDRESS.hour, "the address's own verified sends in the hour")


class PrefixRulesSchema(Section):
    hour = Part(PrefixHour, load_default=lambda: _PREFIX.hour)
    day = Part(PrefixDay, load_default=lambda: _PREFIX.day)
    own = Number(
        load_default=_PREFIX.own,
        validate=_AT_LEAST_ZERO,
        metadata={"description": "limits never below this many times the prefix's own verified"},
    )

    @post_load
    def _rules(self, data: dict[str, Any], **kwargs: Any) -> PrefixRules:
        return PrefixRules(**data)


class CountryRulesSchema(Section):
    hour = Part(CountryHour, load_default=lambda: _COUNTRY.hour)
    day = Part(CountryDay, load_default=lambda: _COUNTRY.day)
    baseline_days = Whole(1, load_default=_COUNTRY.baseline_days)

    @post_load
    def _rules(self, data: dict[str, Any], **kwargs: Any) -> CountryRules:
        return CountryRules(**data)


class AddressRulesSchema(Section):
    countries = Whole(1, load_default=_ADDRESS.countries)
    hour = Part(AddressHour, load_default=lambda: _ADDRESS.hour)

    @post_load
    def _rules(self, data: dict[str, Any], **kwargs: Any) -> AddressRules:
        return AddressRules(**data)


class BotCheckSchema(Section):
    provider = Text(
        required=True, validate=OneOf(sorted(PROVIDERS), error="must be one of {choices}")
    )
    site_key = Text(required=True, validate=Length(min=1, error="must not be empty"))
    secret = EnvText(secret=True, required=True)
    when = Text(load_default="suspect", validate=OneOf(["always", "suspect"]))
    min_score = Number(load_default=0.5, validate=Range(0, 1, error="must be a number from 0 to 1"))
    timeout = Number(
        load_default=3.0,
        validate=Range(0, 30, min_inclusive=False, error="must be above 0 and at most 30"),
    )
    on_error = Text(load_default="open", validate=OneOf(["open", "closed"]))
    verify_url = EnvText(
        load_default="", validate=http_url, metadata={"description": "default: the provider's"}
    )

    @post_load
    def _config(self, data: dict[str, Any], **kwargs: Any) -> BotCheckConfig:
        return BotCheckConfig(**data)


_DEFAULT = GuardConfig()


class FraudGuardSchema(Section):
    mode = _mode(load_default=_DEFAULT.mode)
    countries = KeyedMap(keys=Place(), values=_mode(), load_default=dict)
    prefix_digits = Whole(0, load_default=_DEFAULT.prefix_digits)
    prefix = Part(PrefixRulesSchema, load_default=PrefixRules)
    country = Part(CountryRulesSchema, load_default=CountryRules)
    ip = Part(AddressRulesSchema, load_default=AddressRules)
    blocks = Items(
        Whole(1),
        load_default=lambda: list(_DEFAULT.blocks),
        validate=Length(min=1, error="list at least one block length"),
    )
    escalate_within = Whole(0, load_default=_DEFAULT.escalate_within)
    safe_list = NameSet(Text(), load_default=list)
    bot_check = Part(BotCheckSchema, load_default=None, allow_none=True)

    @validates("prefix_digits")
    def _digits(self, value: int, **kwargs: Any) -> None:
        if value > 6:
            raise ValidationError("must be a whole number from 0 to 6")

    @validates("safe_list")
    def _numbers(self, value: list[str], **kwargs: Any) -> None:
        wrong = [entry for entry in value if not _NUMBER_START.match(entry)]
        if wrong:
            raise ValidationError(f"not a number or the start of one (+ and digits): {wrong}")

    @post_load
    def _config(self, data: dict[str, Any], **kwargs: Any) -> GuardConfig:
        listed = tuple(data.pop("safe_list"))
        return GuardConfig(**{**data, "blocks": tuple(data["blocks"]), "safe_list": listed})
