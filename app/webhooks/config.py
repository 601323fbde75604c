"""The `webhooks:` list of the routing file: business-system endpoints and their secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from app.delivery.reader import RoutingError

EVENTS = frozenset(
    {"verification.approved", "verification.failed", "verification.expired", "delivery.failed"}
)
_KEYS = frozenset({"url", "events", "secret", "previous_secret", "previous_secret_until"})
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Endpoint:
    url: str
    events: frozenset[str]
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: float | None = None  # None: sent until removed from the file

    def secrets_at(self, now: float) -> tuple[str, ...]:
        """The secrets to sign with at `now`: the new one first, the old one during the overlap."""
        overlap = self.previous_secret_until is None or now < self.previous_secret_until
        if self.previous_secret and overlap:
            return (self.secret, self.previous_secret)
        return (self.secret,)


def display_url(url: str) -> str:
    """The URL without credentials or query, fit for a log line."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def parse(raw: Any, source: str) -> list[Endpoint]:
    """Validate the env-resolved `webhooks:` list; a problem names its entry and key."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RoutingError(f"{source}: webhooks: must be a list")
    endpoints = [_endpoint(entry, f"{source}: webhooks[{i}]") for i, entry in enumerate(raw)]
    seen: set[str] = set()
    for i, endpoint in enumerate(endpoints):
        if endpoint.url in seen:
            raise RoutingError(f"{source}: webhooks[{i}].url: the same URL is listed twice")
        seen.add(endpoint.url)
    return endpoints


def _endpoint(entry: Any, where: str) -> Endpoint:
    if not isinstance(entry, dict):
        raise RoutingError(f"{where}: must be a mapping")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise RoutingError(f"{where}.{unknown[0]}: unknown key")
    previous, until = entry.get("previous_secret"), entry.get("previous_secret_until")
    if until is not None:
        if previous is None:
            raise RoutingError(f"{where}.previous_secret_until: needs a previous_secret")
        until = _instant(until, f"{where}.previous_secret_until")
    return Endpoint(
        url=_url(entry.get("url"), f"{where}.url"),
        events=_events(entry.get("events"), f"{where}.events"),
        secret=_secret(entry.get("secret"), f"{where}.secret"),
        previous_secret=None if previous is None else _secret(previous, f"{where}.previous_secret"),
        previous_secret_until=until,
    )


def _url(value: Any, key: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise RoutingError(f"{key}: must be an http:// or https:// URL, got {value!r}")
    return str(value)


def _events(value: Any, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise RoutingError(f"{key}: must list at least one of {sorted(EVENTS)}")
    for event in value:
        if event not in EVENTS:
            raise RoutingError(f"{key}: unknown event {event!r}; one of {sorted(EVENTS)}")
    return frozenset(value)


def _secret(value: Any, key: str) -> str:
    if value is None:
        raise RoutingError(f"{key}: is required (from the environment, e.g. ${{NAME}})")
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        raise RoutingError(f"{key}: must be at least {MIN_SECRET_LENGTH} characters")
    return value


def _instant(value: Any, key: str) -> float:
    """A unix timestamp from a number, an ISO-8601 string or YAML's own datetime (UTC if naive)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    try:
        moment = value if isinstance(value, date) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if not isinstance(moment, datetime):
        raise RoutingError(f"{key}: must be an ISO-8601 date and time or a unix timestamp")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
