"""marshmallow fields of the routing file, worded the way its problems are reported.

Each field carries the JSON Schema keywords an editor needs (`metadata`), so the schema
`flask otp schema` prints is generated from these same fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import phonenumbers
from marshmallow import ValidationError, fields
from marshmallow.validate import OneOf, Range

from app.delivery import autofill
from app.delivery.providers.base import CHANNELS

from . import scope
from .errors import SCHEMA

COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Provider settings whose values are credentials: they must come from the environment.
_SECRET_NAME = re.compile(r"secret|password|token|(^|_)key$")
_NOT_FROM_ENVIRONMENT = "a secret must come from the environment, e.g. ${NAME}"


class Worded(fields.Field):  # type: ignore[type-arg]
    """The wording shared by every field; `json` holds JSON Schema keywords for editors."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "required": "is required",
        "null": "must have a value",
    }
    json: ClassVar[dict[str, Any]] = {}
    # What a key with nothing under it (YAML's null) stands for, as for a section whose
    # entries are all commented out; None: null is refused.
    empty: ClassVar[type[Any] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["metadata"] = {**self.json, **kwargs.get("metadata", {})}
        if self.empty is not None:
            kwargs.setdefault("allow_none", True)  # so the JSON Schema allows null too
        super().__init__(*args, **kwargs)

    def deserialize(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if value is None and self.empty is not None:
            value = self.empty()
        return super().deserialize(value, *args, **kwargs)


class Text(Worded, fields.String):
    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be text"
    }


class Flag(Worded, fields.Boolean):
    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be true or false"
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):  # YAML's own true/false, not 1, "yes" or "on"
            raise self.make_error("invalid")
        return value


class Whole(Worded, fields.Integer):
    """A whole number of at least `low`."""

    def __init__(self, low: int, **kwargs: Any) -> None:
        message = f"must be a whole number of at least {low}"
        validate = Range(min=low, error=message)
        super().__init__(
            strict=True, validate=validate, error_messages={"invalid": message}, **kwargs
        )


class Number(Worded, fields.Float):
    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be a number"
    }

    def _validated(self, value: Any) -> float:
        if not isinstance(value, int | float):  # not text that happens to parse
            raise self.make_error("invalid")
        return super()._validated(value)


class Items(Worded, fields.List):  # type: ignore[type-arg]
    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be a list"
    }
    empty: ClassVar[type[Any] | None] = list


class NameSet(Items):
    """A list of names, each checked by the inner field; its problems name the list itself."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        names: list[Any] = []
        problems: list[Any] = []
        for item in value:
            try:
                names.append(self.inner.deserialize(item, **kwargs))
            except ValidationError as error:
                problems += error.messages if isinstance(error.messages, list) else [error.messages]
        if problems:
            raise ValidationError(problems)
        return list(dict.fromkeys(names))


class Mapped(Worded, fields.Dict):
    """A mapping, whose entries each subclass loads its own way."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be a mapping"
    }
    empty: ClassVar[type[Any] | None] = dict

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        return self._entries(value, **kwargs)

    def _entries(self, value: Mapping[Any, Any], **kwargs: Any) -> dict[Any, Any]:
        raise NotImplementedError


class KeyedMap(Mapped):
    """A mapping whose problems are reported under the key they concern."""

    def _entries(self, value: Mapping[Any, Any], **kwargs: Any) -> dict[Any, Any]:
        assert self.key_field is not None
        assert self.value_field is not None
        result, errors = {}, {}
        for key, item in value.items():
            name, key_problems = _attempt(self.key_field, key, kwargs)
            loaded, problems = _attempt(self.value_field, item, kwargs)
            if key_problems or problems:
                errors[key] = _both(key_problems, problems)
            else:
                result[name] = loaded
        if errors:
            raise ValidationError(errors, valid_data=result)
        return result


def _attempt(field: fields.Field, value: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:  # type: ignore[type-arg]
    """What the field loads from `value`, or its problems."""
    try:
        return field.deserialize(value, **kwargs), None
    except ValidationError as error:
        return None, error.messages


def _both(first: Any, second: Any) -> Any:
    """The problems of a key, then those of its value."""
    if not first or not second:
        return first or second
    if isinstance(second, dict):
        return {SCHEMA: first, **second}
    return [*first, *second]


class Part(Worded, fields.Nested):
    """A section of the file (or an entry of one) with its own schema."""

    empty: ClassVar[type[Any] | None] = dict


class Channel(Text):
    def __init__(self, **kwargs: Any) -> None:
        choices = sorted(CHANNELS)
        error = f"unknown channel {{input!r}}; one of {choices}"
        super().__init__(validate=OneOf(choices, error=error), **kwargs)


def channel_set(**kwargs: Any) -> NameSet:
    """A list of channels."""
    return NameSet(Channel(), **kwargs)


def country_code(value: Any) -> str:
    """An ISO 3166 alpha-2 country code, upper-cased."""
    if not isinstance(value, str) or value.upper() not in COUNTRIES:
        raise ValidationError(f"unknown country code {value!r}")
    return value.upper()


class Country(Text):
    """An ISO 3166 alpha-2 country code."""

    json: ClassVar[dict[str, Any]] = {"pattern": "^[A-Za-z]{2}$"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return country_code(value)


class CountryOrDefault(Text):
    """A country code, or `default` for every other country."""

    json: ClassVar[dict[str, Any]] = {"pattern": "^([A-Za-z]{2}|default)$"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return value if value == "default" else country_code(value)


class Place(Text):
    """A country code or the name of a region group of the file."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        return name if name in scope.current().groups else country_code(name)


class ProviderName(Text):
    """The name of a provider of the file."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in scope.current().providers:
            raise ValidationError(f"unknown provider {value!r}")
        return name


class Purpose(Text):
    """A purpose, as requests name it."""

    json: ClassVar[dict[str, Any]] = {"pattern": "^[a-z][a-z0-9_]{0,31}$"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(self.json["pattern"], name):
            raise ValidationError("a purpose is a-z, 0-9 and _, starting with a letter, 1 to 32")
        return name


class Domain(Text):
    """A host name, such as the WebOTP line names (app/delivery/autofill.py)."""

    json: ClassVar[dict[str, Any]] = {"pattern": "^[A-Za-z0-9.-]{1,253}$"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        try:
            return autofill.check_domain(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


def resolve(value: Any, secret: bool) -> Any:
    """`${VAR}` read from the environment; a secret written literally is refused."""
    reference = _ENV_REF.match(value) if isinstance(value, str) else None
    if reference:
        variable = reference.group(1)
        env = scope.current().env
        if variable not in env:
            raise ValidationError(f"environment variable {variable} is not set")
        return env[variable]
    if secret and value not in (None, ""):
        raise ValidationError(_NOT_FROM_ENVIRONMENT)
    return value


class EnvText(Text):
    """Text, or `${VAR}` read from the environment; a `secret` must be the latter."""

    def __init__(self, secret: bool = False, **kwargs: Any) -> None:
        self.secret = secret
        if secret:
            kwargs["metadata"] = {"pattern": _ENV_REF.pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(resolve(value, self.secret), attr, data, **kwargs)


class ProviderSettings(Mapped):
    """An adapter's settings, `${VAR}` resolved; credentials must come from the environment.

    The adapter itself checks them when it is built."""

    def _entries(self, value: Mapping[Any, Any], **kwargs: Any) -> dict[str, Any]:
        return _settings(value, nested=False)


def _settings(value: Mapping[Any, Any], nested: bool) -> dict[str, Any]:
    result, errors = {}, {}
    for name, item in value.items():
        try:
            if isinstance(item, Mapping):
                result[str(name)] = _settings(item, nested=True)
            else:
                # Nested mappings (templates per purpose, ...) hold no credentials of their own.
                secret = not nested and bool(_SECRET_NAME.search(str(name).lower()))
                result[str(name)] = resolve(item, secret)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return result


def http_url(value: str) -> None:
    """A validator: an http:// or https:// URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"must be an http:// or https:// URL, got {value!r}")
