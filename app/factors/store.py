"""Factors in Redis: a hash per factor, a sorted set per entity; one Lua script per change.

Every key of one entity shares the Redis Cluster hash tag `{tag}`, a hash of the entity id,
and the factor id carries the tag, so a factor is found from its id alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app import keys, luascripts
from app.batch import Batch

ID_PREFIX = "YF"
TAG_LEN = 10  # base32 characters of the entity's hash tag (50 bits)
RAND_LEN = 16  # base32 characters of randomness per factor (80 bits)
ID_LEN = len(ID_PREFIX) + TAG_LEN + RAND_LEN
_EXPORTED = re.compile(r"[A-Za-z0-9_-]+:\{[a-z2-7]{10}\}:(te|tf:[a-z2-7]{16})")
_ALPHABET = set("abcdefghijklmnopqrstuvwxyz234567")
STATUSES = {"u": "unverified", "v": "verified"}


def _b32(raw: bytes, length: int) -> str:
    return base64.b32encode(raw).decode().lower()[:length]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class FactorRef:
    """Where a factor lives: its entity's hash tag and its own random part."""

    tag: str
    rand: str = ""

    @classmethod
    def new(cls, entity: str) -> FactorRef:
        return cls(entity_tag(entity), _b32(secrets.token_bytes(10), RAND_LEN))

    @classmethod
    def parse(cls, factor_id: str) -> FactorRef | None:
        """The reference a factor id names, or None when it cannot be one of ours."""
        body = factor_id.removeprefix(ID_PREFIX)
        if len(factor_id) != ID_LEN or body == factor_id or not set(body) <= _ALPHABET:
            return None
        return cls(body[:TAG_LEN], body[TAG_LEN:])

    @classmethod
    def from_key(cls, key: str) -> FactorRef | None:
        """The reference of a factor hash's key, as SCAN returns it."""
        tagged, _, rand = key.rpartition(":tf:")
        tag = tagged.removeprefix(keys.prefix() + ":{").removesuffix("}")
        return cls.parse(ID_PREFIX + tag + rand)

    @property
    def id(self) -> str:
        return ID_PREFIX + self.tag + self.rand

    @property
    def key(self) -> str:
        """The factor's hash."""
        return keys.key(self.tag, "tf", self.rand)

    @property
    def index_key(self) -> str:
        """The entity's factors: a sorted set of rands, in the factors' slot."""
        return keys.key(self.tag, "te")


def entity_tag(entity: str) -> str:
    """The hash tag of an entity's keys. Unkeyed on purpose: a server secret rotated must not
    lose anyone's factors, and the entity id is stored in the factor anyway."""
    return _b32(hashlib.sha256(f"totp-entity\x1f{entity}".encode()).digest(), TAG_LEN)


@dataclass(frozen=True)
class Factor:
    """A stored factor, as read: the sealed secret stays sealed."""

    ref: FactorRef
    entity: str
    status: str  # unverified or verified
    sealed: str
    period: int
    created: int
    last_used: int | None
    expires_in: int | None  # an unverified factor's seconds to live


def _factor(ref: FactorRef, raw: dict[bytes, bytes], ttl: int) -> Factor:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return Factor(
        ref=ref,
        entity=fields["e"],
        status=STATUSES[fields["s"]],
        sealed=fields["k"],
        period=int(fields["p"]),
        created=int(fields["c"]),
        last_used=int(fields["u"]) if "u" in fields else None,
        expires_in=max(0, ttl) if fields["s"] == "u" else None,
    )


@dataclass(frozen=True)
class Checked:
    """What checking a code's time step did: `approved`, `invalid_code` (with `left` tries),
    `locked` (for `left` seconds), `replayed`, `unverified` or `not_found`."""

    outcome: str
    left: int = 0
    entity: str = ""


class FactorStore:
    """The factor store; every method but the scan is one Redis round trip."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts = {
            name: luascripts.register(client, __package__, name)
            for name in ("enrol", "check", "delete", "reseal")
        }

    def _run(self, name: str, keys: list[str], args: list[Any]) -> list[Any]:
        reply = self._scripts[name](keys=keys, args=args)
        if isinstance(reply, list):
            return [_text(item) for item in reply]
        return [_text(reply)]

    def enrol(
        self, ref: FactorRef, entity: str, sealed: str, period: int, now: int, ttl: int, most: int
    ) -> int | None:
        """Store a new unverified factor; None, or the factors held when `most` are."""
        args = [ref.rand, entity, sealed, period, now, ttl, most]
        reply = self._run("enrol", [ref.key, ref.index_key], args)
        return int(reply[1]) if reply[0] == "limit" else None

    def check(
        self, ref: FactorRef, mode: str, step: int | None, now: int, allowed: int, lock: int
    ) -> Checked:
        """Accept the time step `step` (None: the code matched none) in one atomic step."""
        args = [mode, "" if step is None else step, now, allowed, lock, ref.rand]
        reply = self._run("check", [ref.key, ref.index_key], args)
        if reply[0] == "approved":
            return Checked("approved", entity=reply[1])
        return Checked(reply[0], int(reply[1]) if len(reply) > 1 else 0)

    def delete(self, ref: FactorRef, now: int) -> bool:
        return bool(self._run("delete", [ref.key, ref.index_key], [ref.rand, now])[0])

    def load(self, ref: FactorRef) -> Factor | None:
        """The factor `ref` names, or None when there is none (or it expired unconfirmed)."""
        return self._load_many([ref])[0]

    def factors_of(self, entity: str) -> list[Factor]:
        """The entity's factors, oldest first."""
        probe = FactorRef(entity_tag(entity))
        rands = [_text(rand) for rand in self.client.zrange(probe.index_key, 0, -1)]
        found = self._load_many([FactorRef(probe.tag, rand) for rand in rands])
        mine = [f for f in found if f is not None and f.entity == entity]
        return sorted(mine, key=lambda factor: (factor.created, factor.ref.rand))

    def _load_many(self, refs: list[FactorRef]) -> list[Factor | None]:
        pipe = self.client.pipeline(transaction=False)
        for ref in refs:
            pipe.hgetall(ref.key)
            pipe.ttl(ref.key)
        replies = pipe.execute()
        pairs = zip(refs, replies[::2], replies[1::2], strict=True)
        return [_factor(ref, raw, ttl) if raw else None for ref, raw, ttl in pairs]

    def scan(self, count: int) -> Iterator[list[tuple[FactorRef, str, str]]]:
        """Every factor as (ref, entity, sealed secret), in batches of about `count` (SCAN)."""
        for names in self._key_batches(keys.pattern("tf", "*"), count):
            yield self._sealed([FactorRef.from_key(name) for name in names])

    def dumps(self, count: int) -> Iterator[tuple[str, int, bytes]]:
        """Every factor and index key as (key, milliseconds to live or -1, DUMP)."""
        # The factor hashes and the entities' indexes.
        for names in self._key_batches(keys.pattern("t[ef]*"), count):
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.pttl(name)
                pipe.dump(name)
            replies = pipe.execute()
            found = zip(names, replies[::2], replies[1::2], strict=True)
            yield from ((key, ttl, dump) for key, ttl, dump in found if dump is not None)

    def restore(self, key: str, ttl: int, dump: bytes) -> None:
        """Put back a key `dumps` gave, replacing what is there."""
        if not _EXPORTED.fullmatch(key):
            raise ValueError(f"{key!r} is not a factor key")
        self.client.restore(key, max(ttl, 0), dump, replace=True)

    def _key_batches(self, pattern: str, count: int) -> Iterator[list[str]]:
        names: list[str] = []
        for name in self.client.scan_iter(match=pattern, count=count):
            names.append(_text(name))
            if len(names) == count:
                yield names
                names = []
        if names:
            yield names

    def _sealed(self, refs: list[FactorRef | None]) -> list[tuple[FactorRef, str, str]]:
        known = [ref for ref in refs if ref is not None]
        pipe = self.client.pipeline(transaction=False)
        for ref in known:
            pipe.hmget(ref.key, "e", "k")
        replies = pipe.execute()
        return [
            (ref, _text(entity), _text(sealed))
            for ref, (entity, sealed) in zip(known, replies, strict=True)
            if sealed is not None
        ]

    def reseal(self, batch: Batch, ref: FactorRef, old: str, new: str) -> None:
        """Queue on `batch` the replacement of `old` by `new`, unless the factor changed."""
        batch.script(self._scripts["reseal"], [ref.key], [old, new])
