"""Conversion-driven ordering within a priority tier: Thompson sampling weighed against cost.

Each resource's conversion is drawn from Beta(approved + 1, sent - approved + 1) of its decayed
counts (conversion.py); its score is the draw less `cost_weight` for every doubling of its price
over the tier's cheapest, and the best score leads. So that a route that recovers is found
again, every healthy resource leads at least `min_share` of the plans: with probability
min_share x (healthy resources) the leader is drawn uniformly among them instead. The random
stream is the verification's (routing.py seeds it), so one verification sees one order for one
state of the counts.
"""

from __future__ import annotations

import math
import random

from .config import ConversionSettings, Resource, RoutingConfig
from .conversion import Counts


def order(
    tier: list[Resource],
    config: RoutingConfig,
    country: str,
    counts: dict[str, Counts],
    healthy: set[str],
    rng: random.Random,
) -> list[tuple[Resource, str]]:
    """One priority tier, best first, each resource with the words of its place."""
    settings = config.conversion
    candidates = [r for r in tier if r.provider in healthy]
    explored = rng.random() < settings.min_share * len(candidates)
    leader = rng.choice(candidates) if explored and candidates else None
    costs = {r.provider: config.providers[r.provider].cost_for(country) for r in tier}
    cheapest = min((c for c in costs.values() if c), default=None)
    ranked = []
    for resource in tier:
        seen = counts.get(resource.provider, Counts())
        draw = rng.betavariate(seen.approved + 1, max(0.0, seen.sent - seen.approved) + 1)
        penalty = _penalty(costs[resource.provider], cheapest, settings)
        why = _words(seen, draw, penalty, draw - penalty)
        if resource is leader:
            why += f"; leads by the minimum share draw ({settings.min_share:g} each)"
        ranked.append((resource is not leader, penalty - draw, resource.provider, resource, why))
    return [(resource, why) for *_, resource, why in sorted(ranked, key=lambda r: r[:3])]


def _penalty(cost: float | None, cheapest: float | None, settings: ConversionSettings) -> float:
    """The conversion a price is worth giving up: cost_weight per doubling over the cheapest."""
    if not cost or not cheapest:
        return 0.0
    return settings.cost_weight * math.log2(cost / cheapest)


def _words(seen: Counts, draw: float, penalty: float, score: float) -> str:
    priced = f", less {penalty:.3f} for its cost" if penalty else ""
    return (
        f"conversion {seen.estimate:.3f} ({seen.approved:.1f} approved of {seen.sent:.1f} sent), "
        f"draw {draw:.3f}{priced}: score {score:.3f}"
    )
