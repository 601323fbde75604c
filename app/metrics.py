"""Prometheus metrics. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py)
makes every worker write its samples to files that /metrics adds up."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.delivery.health import CLOSED, HALF_OPEN, OPEN, Health

HTTP_REQUESTS = Counter(
    "otp_http_requests", "HTTP requests by endpoint and status", ["endpoint", "method", "status"]
)
VERIFICATIONS = Counter(
    "otp_verifications", "Verification lifecycle events", ["event"]
)  # created, resent, approved, failed, cancelled, expired
SENDS = Counter(
    "otp_sends",
    "Send attempts by provider, country, channel and outcome",
    ["provider", "country", "channel", "outcome"],
)
OWN_NUMBERS = Counter("otp_own_numbers_sends", "Messages sent through own numbers", ["country"])
NO_ROUTE = Counter("otp_no_route", "Requests refused for want of a route", ["country", "channel"])
VERIFY_OUTCOMES = Counter("otp_verify_outcomes", "Results of POST /otp/verify", ["outcome"])
APPROVALS = Counter(
    "otp_approvals", "Approvals by the provider that delivered the code", ["provider", "country"]
)
PROVIDER_LATENCY = Histogram(
    "otp_provider_latency_seconds",
    "Time one provider call took",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class _Default:
    """The process's own registry, for runs without gunicorn's multiprocess directory."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _Circuits:
    """Breaker states, read from Redis at scrape time (shared by every worker already)."""

    def __init__(self, health: Health, providers: list[str]) -> None:
        self.health = health
        self.providers = providers

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "otp_circuit_state",
            "Provider circuit: 0 closed, 1 half-open, 2 open",
            labels=["provider"],
        )
        for provider in self.providers:
            family.add_metric([provider], _STATE_VALUE[self.health.states(provider)])
        yield family


def _conversion(source: CollectorRegistry) -> GaugeMetricFamily:
    """Approved / sent per provider and country, from the added-up counters."""
    sent: dict[tuple[str, str], float] = {}
    approved: dict[tuple[str, str], float] = {}
    for metric in source.collect():
        for sample in metric.samples:
            labels = sample.labels
            if sample.name == "otp_sends_total" and labels.get("outcome") == "sent":
                key = (labels["provider"], labels["country"])
                sent[key] = sent.get(key, 0) + sample.value
            elif sample.name == "otp_approvals_total":
                approved[(labels["provider"], labels["country"])] = sample.value
    family = GaugeMetricFamily(
        "otp_conversion_ratio",
        "Approved verifications per message sent",
        labels=["provider", "country"],
    )
    for key, count in sorted(sent.items()):
        family.add_metric(list(key), approved.get(key, 0) / count if count else 0)
    return family


def init_app(app: Flask) -> None:
    """Count every request by its route template, method and status."""

    @app.after_request
    def count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(endpoint, request.method, response.status_code).inc()
        return response


def render(health: Health, providers: list[str]) -> bytes:
    """The /metrics body: every worker's samples added up, plus the computed gauges."""
    counters = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    else:
        counters.register(_Default())  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(counters)  # type: ignore[arg-type]
    registry.register(_Circuits(health, providers))  # type: ignore[arg-type]
    conversion = _conversion(counters)
    registry.register(_Fixed(conversion))  # type: ignore[arg-type]
    return generate_latest(registry)


class _Fixed:
    def __init__(self, family: Any) -> None:
        self.family = family

    def collect(self) -> Iterator[Metric]:
        yield self.family
