"""Every Redis key the service writes is named here, under one prefix.

`OTP_KEY_PREFIX` (default `otp`) lets two deployments share one Redis server. The prefix is
the process's: every key of a deployment's gunicorn workers, delivery workers and commands
carries it (the app sets it from its settings when it is built). The part in braces is the
key's Redis Cluster hash tag: keys one script touches share it, so they share a slot.
"""

from __future__ import annotations

import ipaddress
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


def client_address(ip: str | None) -> str | None:
    """The address a client is counted under, by the per-IP limits and the fraud guard: an
    IPv4 address (an IPv4-mapped IPv6 one as its IPv4), or an IPv6 address's /64, one
    subscriber's share, which a client can walk through at will; None for no address or one
    that cannot be read."""
    try:
        parsed = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(getattr(parsed, "ipv4_mapped", None) or parsed)
