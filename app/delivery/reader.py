"""Reading the routing file: every problem names the file, the key and what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers

CHANNELS = frozenset({"sms", "voice", "whatsapp", "email", "wechat"})
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
# Settings whose values are credentials: they must come from the environment.
_SECRET_NAME = re.compile(r"secret|password|token|(^|_)key$")
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class RoutingError(RuntimeError):
    """The routing file cannot be used; the message names the file, the key and the problem."""


class Reader:
    """Walks the parsed file, naming the key of every problem it finds."""

    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env

    def fail(self, key: str, problem: str) -> RoutingError:
        return RoutingError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        return value

    def items(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return value

    def integer(self, value: Any, key: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, f"must be a whole number of at least {low}")
        return value

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def country(self, code: Any, key: str) -> str:
        if not isinstance(code, str) or code.upper() not in COUNTRIES:
            raise self.fail(key, f"unknown country code {code!r}")
        return code.upper()

    def channel_set(self, value: Any, key: str) -> frozenset[str]:
        channels = frozenset(self.items(value, key))
        unknown = channels - CHANNELS
        if unknown:
            raise self.fail(key, f"unknown channel(s) {sorted(unknown)}")
        return channels

    def settings(self, value: Any, key: str) -> dict[str, Any]:
        """A provider's settings with ${VAR} references resolved; credentials must be one."""
        return {name: self.setting(name, item, f"{key}.{name}") for name, item in value.items()}

    def setting(self, name: str, value: Any, key: str, nested: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.setting(k, v, f"{key}.{k}", True) for k, v in value.items()}
        reference = _ENV_REF.match(value) if isinstance(value, str) else None
        if reference:
            variable = reference.group(1)
            if variable not in self.env:
                raise self.fail(key, f"environment variable {variable} is not set")
            return self.env[variable]
        # Nested mappings (templates per purpose, ...) hold no credentials of their own.
        if not nested and _SECRET_NAME.search(name.lower()) and value not in (None, ""):
            raise self.fail(key, "a secret must come from the environment, e.g. ${NAME}")
        return value
