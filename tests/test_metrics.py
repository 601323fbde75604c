"""Metric shapes, layering, and the shipped dashboard and alert rules."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.delivery.health import breaker_key, scopes_key

from .conftest import BASE_CONFIG, TRUSTED, free_port, outbox_code
from .test_observability import sample
from .test_routing import ROUTING, open_circuit

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PHONE = "+4915123456789"


@pytest.fixture
def routed(make_app: Callable[..., Flask]) -> Flask:
    return make_app(OTP_ROUTING_FILE=str(ROUTING))


def metrics_text(client: FlaskClient) -> str:
    response = client.get("/metrics", headers=TRUSTED)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_circuit_state_is_one_series_per_breaker_and_state(
    routed: Flask, redis_client: redis.Redis
) -> None:
    open_circuit(routed, "eu_main", "FR")
    client = routed.test_client()
    text = metrics_text(client)
    in_france = {"provider": "eu_main", "country": "FR"}
    assert sample(text, "otp_circuit_state", state="open", **in_france) == 1
    assert sample(text, "otp_circuit_state", state="closed", **in_france) == 0
    assert sample(text, "otp_circuit_state", state="half_open", **in_france) == 0
    everywhere = {"provider": "eu_main", "country": ""}
    assert sample(text, "otp_circuit_state", state="closed", **everywhere) == 1
    # Every configured provider has its own breaker's series; per-country ones only once seen.
    assert sample(text, "otp_circuit_state", provider="cn_a", country="", state="closed") == 1
    assert 'provider="cn_a",country="CN"' not in text

    # The cool-down over, the breaker waits half-open for its probe.
    redis_client.hset(breaker_key("eu_main", "FR"), "o", int(time.time()) - 1)
    text = metrics_text(client)
    assert sample(text, "otp_circuit_state", state="half_open", **in_france) == 1
    assert sample(text, "otp_circuit_state", state="open", **in_france) == 0
    # Found through a set of scopes with a lifetime, never by scanning the key space.
    assert redis_client.smembers(scopes_key()) == {b"eu_main|FR"}
    assert 0 < redis_client.ttl(scopes_key()) <= 86400


def test_redis_down_is_a_gauge_not_a_failed_scrape(tmp_path: Path) -> None:
    app = create_app(
        {
            **BASE_CONFIG,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OTP_DATA_DIR": str(tmp_path),
        }
    )
    text = metrics_text(app.test_client())
    assert sample(text, "otp_redis_up") == 0
    assert "otp_circuit_state{" not in text


def test_requests_are_timed_even_when_a_limit_refuses_them(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_LIMIT_IP_VERIFY="1/minute").test_client()
    timed = {"endpoint": "/otp/verify", "method": "POST"}
    before = sample(metrics_text(client), "otp_http_request_duration_seconds_count", **timed)
    for _ in range(2):
        client.post("/otp/verify", json={"id": "a" * 30, "code": "123456"})
    text = metrics_text(client)
    assert sample(text, "otp_http_requests_total", status="429", **timed) >= 1
    assert sample(text, "otp_http_request_duration_seconds_count", **timed) == before + 2
    assert sample(text, "otp_redis_up") == 1


def test_a_method_the_client_makes_up_adds_no_series(client: FlaskClient) -> None:
    for n in range(20):
        assert client.open("/otp/verify", method=f"ZZ{n:02d}X").status_code == 405
    text = metrics_text(client)
    methods = set(re.findall(r'otp_http_requests_total\{[^}]*method="([^"]*)"', text))
    assert "other" in methods
    assert not [method for method in methods if method.startswith("ZZ")]
    other = {"endpoint": "unmatched", "method": "other", "status": "405"}
    assert sample(text, "otp_http_requests_total", **other) == 20


def test_delivery_and_verification_import_only_the_metric_families() -> None:
    families = ROOT / "app" / "metrics" / "families.py"
    assert not [name for name in _imports(families) if name.startswith("app")]
    for layer in ("delivery", "verification"):
        for path in (ROOT / "app" / layer).rglob("*.py"):
            metrics = {name for name in _imports(path) if name.startswith("app.metrics")}
            assert metrics <= {"app.metrics", "app.metrics.families"}, path


def _imports(path: Path) -> set[str]:
    """Every module or name a file imports, relative imports resolved."""
    package = path.relative_to(ROOT).parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *filter(None, [node.module])])
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


# Metric names in PromQL: identifiers of our namespace, and recording rules (with colons).
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def queried_names(expression: str) -> set[str]:
    """The series names an expression selects (label values and strings left out)."""
    tokens = _NAME.findall(_QUOTED.sub("", expression))
    return {token for token in tokens if token.startswith("otp_") or ":" in token}


def rules() -> list[dict[str, str]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "otp-service.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    variables = dashboard["templating"]["list"]
    return queries + [v["query"]["query"] for v in variables if v["type"] == "query"]


@pytest.fixture
def exposed(routed: Flask, make_app: Callable[..., Flask]) -> str:
    """/metrics after traffic of every kind the dashboard and the rules look at."""
    client = routed.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    client.post("/otp/verify", json={"id": started["id"], "code": outbox_code(client, PHONE)})
    client.post("/otp/request", json={"phone": "+447400123456"})  # own numbers
    open_circuit(routed, "eu_main")
    client.post("/otp/request", json={"phone": "+33612345678"})  # no_route
    queue_mode = make_app(OTP_ROUTING_FILE=str(ROUTING), OTP_DELIVERY="queue").test_client()
    queue_mode.post("/otp/request", json={"phone": "+4915123456780"})
    return metrics_text(queue_mode)


def test_every_name_the_dashboard_and_the_rules_query_is_exported(exposed: str) -> None:
    exported = {s.name for f in text_string_to_metric_families(exposed) for s in f.samples}
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    expressions = [rule["expr"] for rule in rules()] + dashboard_queries()
    queried = set().union(*map(queried_names, expressions))
    assert queried - exported - recorded == set()
    assert {"otp_circuit_state", "otp_approvals_total", "otp_no_route_refusals_total"} <= queried
    assert recorded <= queried  # no recording rule is left unused


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (.ci/run installs it)")
def test_promtool_accepts_the_rules_the_config_and_the_metrics(exposed: str) -> None:
    assert PROMTOOL is not None
    folder = DEPLOY / "prometheus"
    unit_tests = ["alerts_test.yml", "conversion_test.yml"]
    for command in (["check", "config", "prometheus.yml"], ["test", "rules", *unit_tests]):
        done = subprocess.run([PROMTOOL, *command], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    linted = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=exposed, capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
