"""What a field deep in the routing file must know of the file as a whole.

Fields check names against what the file declares (providers, region groups) and resolve
`${VAR}` from the environment; the loader sets the scope around one load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app.delivery.providers import ADAPTERS


@dataclass(frozen=True)
class Scope:
    source: str  # the file's name, as problems and the loaded configuration give it
    env: Mapping[str, str]
    # Every provider the file names, with the channels it serves when they can be told.
    providers: Mapping[str, frozenset[str] | None]
    groups: frozenset[str]  # the region groups the file names


_SCOPE: ContextVar[Scope] = ContextVar("routing_file_scope")


def current() -> Scope:
    """The scope of the load in progress."""
    return _SCOPE.get()


@contextmanager
def scoped(raw: Any, source: str, env: Mapping[str, str]) -> Iterator[None]:
    """Load `raw` within this block: names are those it declares, even in broken entries."""
    doc = raw if isinstance(raw, dict) else {}
    providers = doc.get("providers")
    regions = doc.get("regions")
    token = _SCOPE.set(
        Scope(
            source=source,
            env=env,
            providers={
                str(name): _channels(entry)
                for name, entry in (providers.items() if isinstance(providers, dict) else ())
            },
            groups=frozenset(map(str, regions)) if isinstance(regions, dict) else frozenset(),
        )
    )
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _channels(entry: Any) -> frozenset[str] | None:
    """The channels a provider entry declares, or those its type serves by default."""
    if not isinstance(entry, dict):
        return None
    declared = entry.get("channels")
    if isinstance(declared, list) and all(isinstance(c, str) for c in declared):
        return frozenset(declared)
    kind = entry.get("type")
    adapter = ADAPTERS.get(kind) if isinstance(kind, str) else None
    return None if adapter is None else adapter.serves
