"""The `webhooks:` section: business-system endpoints, their secrets only from the environment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, post_load, validates_schema
from marshmallow.validate import Length, OneOf

from app.webhooks.config import EVENTS, MIN_SECRET_LENGTH, Endpoint

from .fields import EnvText, Items, NameSet, Part, Text, Worded, http_url, resolve
from .sections import Section

_SHORT = f"must be at least {MIN_SECRET_LENGTH} characters"
# make_error formats its message: braces doubled.
_REQUIRED_FROM_ENVIRONMENT = "is required (from the environment, e.g. ${{NAME}})"
_SOME_EVENTS = f"must list at least one of {sorted(EVENTS)}"


def _long_enough(secret: str) -> None:
    # A validator of the resolved value: a Length would ask the same of `${VAR}` in the schema.
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValidationError(_SHORT)


class Instant(Worded, fields.Field):  # type: ignore[type-arg]
    """A moment as a unix timestamp, an ISO-8601 string or YAML's own datetime (UTC if naive)."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute)
        "invalid": "must be an ISO-8601 date and time or a unix timestamp",
    }

    json: ClassVar[dict[str, Any]] = {"type": ["string", "number"]}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        value = resolve(value, secret=False)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        try:
            moment = value if isinstance(value, date) else datetime.fromisoformat(value)
        except (TypeError, ValueError):
            moment = None
        if not isinstance(moment, datetime):
            raise self.make_error("invalid")
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class WebhookSchema(Section):
    """One business-system endpoint; `${VAR}` is read from the environment in every key."""

    url = EnvText(
        required=True,
        validate=http_url,
        error_messages={"required": "must be an http:// or https:// URL"},
    )
    events = NameSet(
        Text(
            validate=OneOf(
                sorted(EVENTS), error=f"unknown event {{input!r}}; one of {sorted(EVENTS)}"
            )
        ),
        required=True,
        validate=Length(min=1, error=_SOME_EVENTS),
        error_messages={"required": _SOME_EVENTS, "invalid": _SOME_EVENTS},
    )
    secret = EnvText(
        secret=True,
        required=True,
        validate=_long_enough,
        error_messages={"required": _REQUIRED_FROM_ENVIRONMENT},
    )
    previous_secret = EnvText(secret=True, validate=_long_enough, load_default=None)
    previous_secret_until = Instant(
        load_default=None,
        metadata={"description": "until when the previous secret signs too; unset: until removed"},
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _rotation(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        given = original if isinstance(original, dict) else {}
        if given.get("previous_secret_until") is not None and given.get("previous_secret") is None:
            raise ValidationError("needs a previous_secret", "previous_secret_until")

    @post_load
    def _endpoint(self, data: dict[str, Any], **kwargs: Any) -> Endpoint:
        return Endpoint(**{**data, "events": frozenset(data["events"])})


class Endpoints(Items):
    """The `webhooks:` list; one URL appears once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Part(WebhookSchema), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        endpoints, errors, seen = [], {}, set()
        for i, item in enumerate(value):
            try:
                endpoint = self.inner.deserialize(item, **kwargs)
            except ValidationError as error:
                errors[i] = error.messages
                continue
            if endpoint.url in seen:
                errors[i] = {"url": ["the same URL is listed twice"]}
            seen.add(endpoint.url)
            endpoints.append(endpoint)
        if errors:
            raise ValidationError(errors)
        return endpoints
