"""Verification state in Redis: one Lua script per state change, registered once."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from app.batch import Batch

from .codes import VerificationRef

# Hash fields of a verification (short names keep pending verifications small).
STATUS_NAMES = {
    "p": "pending",
    "a": "approved",
    "c": "cancelled",
    "f": "failed",
    "x": "too_many_attempts",
}


def _script_source(name: str) -> str:
    lua = resources.files(__package__) / "lua"
    prelude = (lua / "_quota.lua").read_text() if name in {"create", "resend"} else ""
    return prelude + (lua / f"{name}.lua").read_text()


@dataclass(frozen=True)
class Limits:
    ttl: int
    resend_cooldown: int
    max_sends: int
    max_attempts: int
    phone_hourly: int
    phone_daily: int


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class Store:
    """The verification store; every method is one Redis round trip."""

    def __init__(self, client: Any, limits: Limits) -> None:
        self.client = client
        self.limits = limits
        self._scripts = {
            name: client.register_script(_script_source(name))
            for name in ("create", "resend", "verify", "cancel", "record", "receipt")
        }

    def _run(self, name: str, keys: list[str], args: list[Any]) -> list[Any]:
        reply = self._scripts[name](keys=keys, args=args)
        if isinstance(reply, list):
            return [_text(item) for item in reply]
        return [reply]

    def create(
        self, ref: VerificationRef, digest: bytes, now: int, fields: dict[str, str]
    ) -> list[Any]:
        limits = self.limits
        args: list[Any] = [ref.rand, digest, now, limits.ttl, limits.resend_cooldown]
        args += [limits.phone_hourly, limits.phone_daily]
        for name, value in fields.items():
            args += [name, value]
        return self._run("create", [ref.key, ref.quota_key], args)

    def resend(self, ref: VerificationRef, now: int, channel: str) -> list[Any]:
        limits = self.limits
        args = [ref.rand, now, limits.resend_cooldown, limits.max_sends]
        args += [limits.phone_hourly, limits.phone_daily, channel]
        return self._run("resend", [ref.key, ref.quota_key], args)

    def verify(self, ref: VerificationRef, digest: bytes) -> list[Any]:
        return self._run("verify", [ref.key], [ref.rand, digest, self.limits.max_attempts])

    def cancel(self, ref: VerificationRef) -> bool:
        return bool(self._run("cancel", [ref.key], [ref.rand])[0])

    def record(self, batch: Batch, ref: VerificationRef, lines: str, failed: bool) -> None:
        """Queue the attempts of one send on `batch`."""
        args = [ref.rand, lines, "f" if failed else ""]
        batch.script(self._scripts["record"], [ref.key], args)

    def claim_send(self, ref: VerificationRef, send: int) -> bool:
        """Whether this is the first attempt at send number `send` (the queue's marker)."""
        return bool(self.client.set(ref.marker_key(send), "1", nx=True, ex=self.limits.ttl))

    def mark_failed(self, ref: VerificationRef) -> None:
        batch = Batch(self.client)
        self.record(batch, ref, "", failed=True)
        batch.execute()

    def receipt(self, ref: VerificationRef, message_id: str, status: str, code: str) -> list[Any]:
        """Record a delivery report: ['new', country], ['seen'] or ['gone']."""
        return self._run("receipt", [ref.key], [ref.rand, message_id, status, code])

    def load(self, ref: VerificationRef, any_rand: bool = False) -> dict[str, str] | None:
        """The verification's fields (without the digest) and its seconds to live under
        "ttl", or None if unknown or expired."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(ref.key)
        pipe.ttl(ref.key)
        raw, ttl = pipe.execute()
        if not raw or (not any_rand and _text(raw.get(b"r")) != ref.rand):
            return None
        fields = {_text(k): _text(v) for k, v in raw.items() if k != b"h"}
        fields["ttl"] = str(max(0, ttl))
        return fields
