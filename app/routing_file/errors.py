"""The one error of the routing file: every problem found, one line each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SCHEMA = "_schema"  # marshmallow's key for a problem of a mapping as a whole
TOP_LEVEL = "(top level)"


class RoutingError(RuntimeError):
    """The routing file cannot be used; each problem reads `<file>: <key.path>: <problem>`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def lines(source: str, messages: Any) -> list[str]:
    """marshmallow's nested error messages as `<file>: <key.path>: <problem>` lines."""
    return [f"{source}: {path or TOP_LEVEL}: {problem}" for path, problem in _walk(messages, "")]


def _walk(messages: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _walk(inner, _join(path, key))
    elif isinstance(messages, list):
        for inner in messages:
            yield from _walk(inner, path)
    else:
        yield path, str(messages)


def _join(path: str, key: object) -> str:
    if key == SCHEMA:
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
