"""Loading the routing file: the schemas check it whole, then each provider's adapter checks
its settings; every problem found is reported at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from app.delivery.config import ProviderSpec, RoutingConfig
from app.delivery.providers import ADAPTERS
from app.delivery.providers.base import CHANNELS, ConfigError, Provider, ProviderContext
from app.guard.config import GuardConfig
from app.webhooks.config import Endpoint

from . import scope
from .document import Document, RoutingFileSchema, spec
from .errors import RoutingError, lines

DEVELOPMENT_SOURCE = "<development default>"
DEVELOPMENT_ROUTING: dict[str, Any] = {
    "providers": {"console": {"type": "console", "channels": sorted(CHANNELS)}},
    "own_numbers": {"default": [{"provider": "console"}]},
}
# ConfigError keys that name a key of the provider's entry rather than one of its settings.
_ENTRY_KEYS = frozenset({"type", "channels"})


@dataclass(frozen=True)
class RoutingFile:
    """What the routing file sets up: routing, the providers' adapters, webhooks."""

    routing: RoutingConfig
    providers: dict[str, Provider]
    webhooks: tuple[Endpoint, ...]
    guard: GuardConfig = field(default_factory=GuardConfig)


def load(
    path: Path | None, context: ProviderContext, env: Mapping[str, str] | None = None
) -> RoutingFile:
    """Read and check a routing file; None gives the development default (console only)."""
    env = os.environ if env is None else env
    if path is None:
        return parse(DEVELOPMENT_ROUTING, DEVELOPMENT_SOURCE, context, env)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RoutingError([f"{path}: cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise RoutingError([f"{path}: {_yaml_problem(exc)}"]) from exc
    return parse(raw, str(path), context, env)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where the YAML breaks and why, on one line."""
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: not YAML: {exc.problem}"
    return "not YAML: " + " ".join(str(exc).split())


def parse(raw: Any, source: str, context: ProviderContext, env: Mapping[str, str]) -> RoutingFile:
    """Check the parsed YAML; RoutingError lists every problem, one per line."""
    raw = {} if raw is None else raw  # an empty file: "at least one provider is needed"
    with scope.scoped(raw, source, env):
        document, problems, specs = _through_schema(raw, source)
    providers, refused = _adapters(specs, context, source)
    if document is None or problems or refused:
        raise RoutingError(problems + refused)
    return RoutingFile(document.routing, providers, document.webhooks, document.guard)


def _through_schema(raw: Any, source: str) -> tuple[Document | None, list[str], list[ProviderSpec]]:
    """The document, or its problems; either way the providers whose entries passed."""
    try:
        document: Document = RoutingFileSchema().load(raw)
    except ValidationError as exc:
        return None, lines(source, exc.messages), _loaded_specs(exc.valid_data)
    return document, [], list(document.routing.providers.values())


def _adapters(
    specs: list[ProviderSpec], context: ProviderContext, source: str
) -> tuple[dict[str, Provider], list[str]]:
    """Each provider's adapter, or the problem it finds in its settings."""
    providers, problems = {}, []
    for provider in specs:
        try:
            providers[provider.name] = build(provider, context)
        except ValueError as exc:
            problems.append(f"{source}: providers.{provider.name}.{_setting_problem(exc)}")
    return providers, problems


def build(provider: ProviderSpec, context: ProviderContext) -> Provider:
    """The adapter of one provider; ConfigError names the setting it refuses."""
    adapter = ADAPTERS[provider.kind]
    return adapter.from_settings(provider.name, provider.channels, provider.settings, context)


def _setting_problem(exc: ValueError) -> str:
    """`<key>: <problem>` below the provider's entry."""
    if not isinstance(exc, ConfigError):
        # An SDK refusing a value while its client is built (boto3: a malformed region).
        return f"settings: {exc}"
    return f"{exc.key if exc.key in _ENTRY_KEYS else f'settings.{exc.key}'}: {exc.problem}"


def _loaded_specs(valid: Any) -> list[ProviderSpec]:
    """The providers whose entries passed the schema in a file that did not."""
    entries = valid.get("providers") if isinstance(valid, dict) else None
    return [spec(name, entry) for name, entry in (entries or {}).items()]
