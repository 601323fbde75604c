"""Every Redis key the service writes is named here, under one prefix.

`OTP_KEY_PREFIX` (default `otp`) lets two deployments share one Redis server. The prefix is
the process's: every key of a deployment's gunicorn workers, delivery workers and commands
carries it (the app sets it from its settings when it is built). The part in braces is the
key's Redis Cluster hash tag: keys one script touches share it, so they share a slot.
"""

from __future__ import annotations

import re

DEFAULT_PREFIX = "otp"
VALID_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
_prefix = DEFAULT_PREFIX


def use(prefix: str) -> None:
    """Name every key from now on under `prefix` (checked by the settings)."""
    global _prefix
    _prefix = prefix


def prefix() -> str:
    return _prefix


def key(tag: str, *parts: object) -> str:
    """`<prefix>:{<tag>}:<part>:<part>...`: a key in the Cluster slot of `tag`."""
    return ":".join([f"{_prefix}:{{{tag}}}", *map(str, parts)])


def pattern(*parts: str) -> str:
    """A SCAN pattern over every tag: `<prefix>:{*}:<part>...`."""
    return ":".join([f"{_prefix}:{{*}}", *parts])


def queue(name: str) -> str:
    """A queue's name (RQ keeps its own key names under it)."""
    return f"{_prefix}-{name}"
