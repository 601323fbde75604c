"""The fraud guard's state in Redis: counters, blocks and their histories, one script each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import luascripts
from app.batch import Batch

from . import keys
from .config import GuardConfig

HOUR_TTL = 2 * keys.HOUR + 60  # this hour and the last are read
DAY_TTL = 2 * keys.DAY + 60  # today and yesterday are read
ADDRESS_DAY_TTL = keys.DAY + 60  # only today is read


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Block:
    """A block in force (or placed just now), and what placed it."""

    scope: str  # prefix, country, ip
    until: int
    step: int  # 1 for a first block, 2 for the next soon after ...
    mode: str  # enforce; monitor: recorded, nothing refused
    placed: bool  # placed by this check
    count: str  # the unverified sends (for ip and window "day": countries) it counted
    limit: str  # the limit they went over
    window: str  # hour, day
    value: str = ""  # the prefix, country or address


def _block(reply: list[Any], values: dict[str, str]) -> Block | None:
    """A script's answer as a block of the scope it names, or None for a pass."""
    if _text(reply[0]) != "blocked":
        return None
    scope, until, step, mode, placed, count, limit, window = (_text(r) for r in reply[1:9])
    placed_now = placed == "1"
    return Block(
        scope, int(float(until)), int(step), mode, placed_now, count, limit, window, values[scope]
    )


@dataclass(frozen=True)
class Send:
    """What the guard weighs of one send: where it goes, and who asks."""

    prefix: str
    country: str
    code: str  # the calling code the prefix and country are filed under
    ip: str | None  # the client's address (an IPv6 /64), None for a trusted caller


class GuardStore:
    def __init__(self, client: Any, config: GuardConfig) -> None:
        self.client = client
        self.config = config
        self._scripts = {
            name: luascripts.register(client, __package__, name)
            for name in ("check", "address", "count", "verified", "lift")
        }

    def check(self, send: Send, mode: str, now: float) -> list[Block]:
        """The blocks that stand in the way of a send, placing those that are due: one round
        trip, one script for the destination's slot and one for the address's."""
        batch = Batch(self.client)
        batch.script(self._scripts["check"], self._zone_keys(send, now), self._zone_args(mode, now))
        if send.ip is not None:
            args = self._address_args(send.country, mode, now)
            batch.script(self._scripts["address"], self._address_keys(send.ip, now), args)
        values = {"prefix": send.prefix, "country": send.country, "ip": send.ip or ""}
        blocks = [_block(reply, values) for reply in batch.execute()]
        return [block for block in blocks if block is not None]

    def _zone_keys(self, send: Send, now: float) -> list[str]:
        prefix = keys.block_key("prefix", send.prefix, send.code)
        country = keys.block_key("country", send.country, send.code)
        days = self.config.country.baseline_days
        return [
            prefix,
            keys.history_key(prefix),
            country,
            keys.history_key(country),
            *keys.prefix_keys(send.prefix, now),
            *keys.country_keys(send.code, send.country, now, days),
        ]

    def _zone_args(self, mode: str, now: float) -> list[Any]:
        config, (prefix, country) = self.config, (self.config.prefix, self.config.country)
        return [
            now,
            (now % keys.HOUR) / keys.HOUR,
            (now % keys.DAY) / keys.DAY,
            mode,
            ",".join(map(str, config.blocks)),
            config.escalate_within,
            prefix.hour.floor,
            prefix.hour.factor,
            prefix.day.floor,
            prefix.day.factor,
            prefix.own,
            country.hour.floor,
            country.hour.factor,
            country.day.floor,
            country.day.factor,
        ]

    def _address_keys(self, ip: str, now: float) -> list[str]:
        block = keys.block_key("ip", ip)
        return [block, keys.history_key(block), *keys.address_keys(ip, now)]

    def _address_args(self, country: str, mode: str, now: float) -> list[Any]:
        config, rules = self.config, self.config.ip
        return [
            now,
            (now % keys.HOUR) / keys.HOUR,
            mode,
            ",".join(map(str, config.blocks)),
            config.escalate_within,
            country,
            rules.countries,
            rules.hour.floor,
            rules.hour.factor,
            HOUR_TTL,
            ADDRESS_DAY_TTL,
        ]

    def count(self, batch: Batch, send: Send, now: float, field: str) -> None:
        """Queue one send (`s`) or approval (`a`) on the destination's prefix and country."""
        prefix, country = (
            keys.prefix_keys(send.prefix, now),
            keys.country_keys(send.code, send.country, now, 0),
        )
        country_ttl = (self.config.country.baseline_days + 2) * keys.DAY
        counters = [prefix[0], prefix[2], country[0], country[2]]
        args = [field, HOUR_TTL, DAY_TTL, HOUR_TTL, country_ttl]
        batch.script(self._scripts["count"], counters, args)

    def verified(self, batch: Batch, ip: str, country: str, now: float) -> None:
        """Queue an approval from a client address."""
        hour, _, day = keys.address_keys(ip, now)
        args = [country, HOUR_TTL, ADDRESS_DAY_TTL]
        batch.script(self._scripts["verified"], [hour, day], args)

    def blocks(self, now: float) -> list[Block]:
        """Every block in force, found by SCAN (an operator's command, not the request path)."""
        found = []
        for key in self.client.scan_iter(match=keys.block_pattern(), count=1000):
            scope = keys.scope_of(_text(key))
            stored = self.client.hgetall(key) if scope else None
            if scope and stored and float(stored[b"until"]) > now:
                found.append(_stored(scope[0], scope[1], stored))
        return sorted(found, key=lambda block: (block.scope, block.value))

    def lift(self, scope: str, value: str, now: float) -> Block | None:
        """End a block early, forget its history (a next block starts at step 1) and the
        unverified sends its scope counted; the block that was in force, or None."""
        key = keys.block_key(scope, value)
        reply = self._scripts["lift"](
            keys=[key, keys.history_key(key), *self._counters(scope, value, now)], args=[now]
        )
        stored = dict(zip(reply[::2], reply[1::2], strict=True))
        return _stored(scope, value, stored) if stored else None

    def _counters(self, scope: str, value: str, now: float) -> list[str]:
        """The counters a block of this scope weighed, this window and the last."""
        if scope == "prefix":
            return keys.prefix_keys(value, now)
        if scope == "country":
            code = keys.country_calling_code(value) or ""
            return keys.country_keys(code, value, now, 1)
        return keys.address_keys(value, now)


def _stored(scope: str, value: str, stored: dict[bytes, bytes]) -> Block:
    field = {k.decode(): v.decode() for k, v in stored.items()}
    return Block(
        scope,
        int(float(field["until"])),
        int(field["step"]),
        field["mode"],
        False,
        field["count"],
        field["limit"],
        field["window"],
        value,
    )
