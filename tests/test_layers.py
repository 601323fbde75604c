"""Imports run downwards: delivery knows nothing of verification, and nothing below the API
imports the API, the composition root or create_app."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_metrics import _imports

ROOT = Path(__file__).resolve().parent.parent
# What the layers below the API never import: the app's top (create_app, the composition
# root, the CLI, the worker job, the HTTP edge).
TOP = ("app.api", "app.services", "app.create_app", "app.cli", "app.worker", "app.ratelimit")
TOP += ("app.cors", "app.logs", "app.metrics.exposition")
BELOW = {
    "delivery": (*TOP, "app.verification", "app.webhooks", "app.routing_file"),
    "webhooks": (*TOP, "app.verification", "app.delivery", "app.routing_file"),
    "verification": (*TOP, "app.routing_file"),
    "guard": (*TOP, "app.verification", "app.delivery", "app.routing_file"),
}


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    climbing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "app" / layer).rglob("*.py")
        for name in _imports(path)
        if name.startswith(BELOW[layer]) or name == "app.create_app"
    }
    assert not climbing
