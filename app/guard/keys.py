"""Every Redis key of the fraud guard, and the scopes it counts: prefixes, countries, addresses.

Keys are named by app/keys.py (under OTP_KEY_PREFIX), with `guard` after the hash tag. A
destination's prefix and its country share the tag of their calling code (`{g49}`; `{g1}` is
the whole North American plan), so that one script weighs a prefix against its country in one
slot. Each client address has a tag of its own. No key is global.
"""

from __future__ import annotations

import phonenumbers

from app import keys

# Calling codes are prefix-free: a number starts with exactly one of them.
_CALLING_CODES = frozenset(map(str, phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
HOUR, DAY = 3600, 86400
_GUARD = "guard"


def zone(calling_code: str, *parts: object) -> str:
    """A key of one calling code's prefixes and countries."""
    return keys.key(f"g{calling_code}", _GUARD, *parts)


def address(ip: str, *parts: object) -> str:
    """A key of one client address."""
    return keys.key(f"ip:{ip}", _GUARD, *parts)


def calling_code(number: str) -> str | None:
    """The calling code an E.164 number or prefix starts with (+4915... -> 49)."""
    digits = number[1:] if number.startswith("+") else ""
    return next((digits[:n] for n in (1, 2, 3) if digits[:n] in _CALLING_CODES), None)


def country_calling_code(country: str) -> str | None:
    code = phonenumbers.country_code_for_region(country.upper())
    return str(code) if code else None


def prefix_of(number: str, dropped: int) -> str:
    """The number without its last `dropped` digits: the range a pumping bot walks through."""
    return number[: len(number) - dropped] if dropped else number


def windows(now: float) -> tuple[int, int]:
    """The hour and the day `now` falls in, as bucket numbers."""
    return int(now // HOUR), int(now // DAY)


def prefix_keys(prefix: str, now: float) -> list[str]:
    """A prefix's counters: this hour, the last, today, yesterday."""
    hour, day = windows(now)
    code = calling_code(prefix) or ""
    return [
        zone(code, "n", "p", prefix, "h", hour),
        zone(code, "n", "p", prefix, "h", hour - 1),
        zone(code, "n", "p", prefix, "d", day),
        zone(code, "n", "p", prefix, "d", day - 1),
    ]


def country_keys(code: str, country: str, now: float, days: int) -> list[str]:
    """A country's counters: this hour, the last, then today and each of the `days` before."""
    hour, day = windows(now)
    hours = [zone(code, "n", "c", country, "h", hour - n) for n in range(2)]
    return hours + [zone(code, "n", "c", country, "d", day - n) for n in range(days + 1)]


def address_keys(ip: str, now: float) -> list[str]:
    """An address's counters: this hour, the last, today."""
    hour, day = windows(now)
    return [
        address(ip, "n", "h", hour),
        address(ip, "n", "h", hour - 1),
        address(ip, "n", "d", day),
    ]


def block_key(scope: str, value: str, code: str | None = None) -> str:
    """Where a block of a prefix, a country (with its calling code) or an address lives."""
    if scope == "ip":
        return address(value, "b")
    code = code or (calling_code(value) if scope == "prefix" else country_calling_code(value))
    return zone(code or "", "b", scope[0], value)


def history_key(block: str) -> str:
    """The escalation record next to a block: its last step and when it ended."""
    return block.replace(f"}}:{_GUARD}:b", f"}}:{_GUARD}:e", 1)


def block_pattern() -> str:
    """A SCAN pattern over every block."""
    return keys.pattern(_GUARD, "b*")


def scope_of(key: str) -> tuple[str, str] | None:
    """(scope, value) of a block key found by SCAN, or None for any other key."""
    tag, _, rest = key.partition("{")[2].partition(f"}}:{_GUARD}:")
    if tag.startswith("ip:") and rest == "b":
        return "ip", tag[3:]
    kind, _, value = rest.removeprefix("b:").partition(":")
    if rest.startswith("b:") and kind in ("p", "c"):
        return ("prefix" if kind == "p" else "country"), value
    return None
