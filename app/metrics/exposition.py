"""The /metrics body and the per-request counting of the web app.

Counters and histograms come from every process that counts: under gunicorn (and for a
delivery worker on the same machine) PROMETHEUS_MULTIPROC_DIR makes each process write its
samples to files there, which a scrape adds up. Gauges of shared state (breakers, Redis, the
delivery queue) are read from Redis at scrape time, once, by whichever worker answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError

from app.delivery.health import CLOSED, HALF_OPEN, OPEN, Health

from .families import HTTP_DURATION, HTTP_REQUESTS

_STATES = (CLOSED, HALF_OPEN, OPEN)
# The methods a label may name; any other a client sends (gunicorn takes any upper-case token)
# is counted as "other", so that no caller can add series at will.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    """Count every request and time it, by its route template and method."""

    def start() -> None:
        g.metrics_started = time.perf_counter()

    # First of all before-request hooks, so that a request a limiter refuses is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, start)

    @app.after_request
    def count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(endpoint, method, response.status_code).inc()
        started = g.get("metrics_started")
        if started is not None:
            HTTP_DURATION.labels(endpoint, method).observe(time.perf_counter() - started)
        return response


def counted() -> Any:
    """The collector of every counted sample: the multiprocess files, or this process's own."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return _Own()
    collector = CollectorRegistry()
    MultiProcessCollector(collector, path)  # type: ignore[no-untyped-call]
    return collector


def render(health: Health, providers: list[str], queue: Any) -> bytes:
    """The /metrics body: the counted samples plus the shared state read from Redis."""
    registry = CollectorRegistry()
    registry.register(counted())
    registry.register(_Shared(health, providers, queue))  # type: ignore[arg-type]
    return generate_latest(registry)


class _Own:
    """This process's default registry, for a run without a multiprocess directory."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _Shared:
    """Gauges of state every worker shares, read from Redis when scraped."""

    def __init__(self, health: Health, providers: list[str], queue: Any) -> None:
        self.health = health
        self.providers = providers
        self.queue = queue  # the delivery queue in queue mode, else None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "otp_redis_up", "1 when Redis answered this scrape's reads, 0 when it did not."
        )
        try:
            circuits = self.health.circuits(self.providers)
            depth = None if self.queue is None else self.queue.count
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _circuit_family(circuits)
        if depth is not None:
            yield GaugeMetricFamily(
                "otp_delivery_queue_jobs", "Send jobs waiting in the delivery queue.", value=depth
            )


def _circuit_family(circuits: list[tuple[str, str, str]]) -> GaugeMetricFamily:
    """One series per breaker and state, 1 for the state it is in (country "" = provider-wide)."""
    family = GaugeMetricFamily(
        "otp_circuit_state",
        "Circuit breaker state: 1 for the state the breaker is in, 0 for the others; "
        'country="" is the provider-wide breaker.',
        labels=["provider", "country", "state"],
    )
    for provider, country, current in circuits:
        for state in _STATES:
            family.add_metric([provider, country, state], 1 if state == current else 0)
    return family
