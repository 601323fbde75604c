"""What the routing file says about delivery, as plain data (read by app/routing_file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .health import BreakerSettings
from .providers.base import CHANNELS


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
    webotp: dict[str, str | None] = field(default_factory=dict)  # purpose -> domain or None
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    # The master switch: off, every country goes through its own numbers (rule 5).
    scheduling_enabled: bool = True
