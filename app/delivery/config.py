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
    strategy: str = "weights"  # or "conversion": Thompson sampling within a tier (conversion.py)


@dataclass(frozen=True)
class ConversionSettings:
    """The conversion strategy's settings (docs/routing.md, "Conversion-driven ordering")."""

    half_life: float = 86400.0  # seconds for a count to lose half its weight
    max_sent: float = 300.0  # beyond, both counts shrink: the estimate follows recent sends
    cost_weight: float = 0.05  # conversion worth paying twice as much (0.05: 5 points)
    min_share: float = 0.05  # of the plans each healthy resource of a tier leads at least
    cache_seconds: float = 5.0  # how long a worker reuses the counts read from Redis


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
    conversion: ConversionSettings = field(default_factory=ConversionSettings)
