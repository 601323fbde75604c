"""Verification state in Redis: one Lua script per state change, registered once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import luascripts
from app.batch import Batch
from app.delivery import phone

from .codes import VerificationRef

# Hash fields of a verification (short names, and no field that holds its default or what the
# destination tells, keep pending verifications small).
STATUS_NAMES = {
    "p": "pending",
    "a": "approved",
    "c": "cancelled",
    "f": "failed",
    "x": "too_many_attempts",
}


# What a field a verification's hash leaves out holds: the status (pending), the first handle's
# wrong tries, the sends, the channel, the purpose and the locale. Hashes written before kept
# them all, and read the same.
DEFAULTS = {"s": "p", "w": "0", "n": "1", "c": "sms", "pu": "login", "lo": "en"}


def _told(to: str) -> dict[str, str]:
    """What a destination tells of its verification: a number's country, the first one of its
    calling code (its kind, mobile, unless the hash says otherwise); an address has none."""
    if not to.startswith("+"):
        return {"cc": ""}
    return {"cc": phone.calling_country(to), "k": phone.KIND_CODES["mobile"]}


def _stored(fields: dict[str, str]) -> dict[str, str]:
    """The fields of a new verification as its hash keeps them: none that holds its default
    or what its destination tells."""
    implied = {**DEFAULTS, **_told(fields["to"])}
    return {name: value for name, value in fields.items() if implied.get(name) != value}


def _complete(fields: dict[str, str]) -> dict[str, str]:
    """A verification's fields as its hash keeps them (an empty value as absent), with those
    it leaves out filled in: the one place that reads what `stored` leaves out."""
    kept = {name: value for name, value in fields.items() if value}
    return {**DEFAULTS, **_told(fields["to"]), **kept}


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


@dataclass(frozen=True)
class Sent:
    """What asking for a code did: `created` or `resent` (then `root` is the verification's
    first handle, which its code is derived from), or why it refused: `cooldown`,
    `max_sends`, `limited` (the destination's quota), or `not_found`."""

    outcome: str
    root: str = ""
    sends: int = 0
    wait: int = 0  # seconds to the next allowed send; for a refusal, to retry
    attempts: str = ""  # the attempt lines recorded so far


def _sent(reply: list[Any], cooldown: int) -> Sent:
    outcome = reply[0]
    if outcome == "created":
        return Sent(outcome, reply[1], 1, cooldown)
    if outcome == "resent":
        return Sent(outcome, reply[1], int(reply[2]), int(float(reply[3])), reply[4] or "")
    return Sent(outcome, wait=int(reply[1]) if len(reply) > 1 else 0)


@dataclass(frozen=True)
class Checked:
    """What checking a code did: `approved` (with what the token and webhooks need),
    `invalid_code`, `too_many_attempts` or `not_found`."""

    outcome: str
    attempts_left: int = 0
    root: str = ""
    to: str = ""
    purpose: str = ""
    attempts: str = ""
    country: str = ""


def _checked(reply: list[Any]) -> Checked:
    if reply[0] == "approved":
        root, to, purpose, attempts, country = reply[1:6]
        fields = _complete({"to": to, "pu": purpose, "cc": country})
        return Checked("approved", 0, root, to, fields["pu"], attempts, fields["cc"])
    if reply[0] == "invalid_code":
        return Checked("invalid_code", int(reply[1]))
    return Checked(reply[0])


class Store:
    """The verification store; every method is one Redis round trip."""

    def __init__(self, client: Any, limits: Limits) -> None:
        self.client = client
        self.limits = limits
        self._scripts = {
            name: luascripts.register(client, __package__, name)
            for name in (
                *("create", "resend", "verify", "approve", "cancel"),
                *("record", "receipt", "journal", "settle"),
            )
        }

    def _run(self, name: str, keys: list[str], args: list[Any]) -> list[Any]:
        reply = self._scripts[name](keys=keys, args=args)
        if isinstance(reply, list):
            return [_text(item) for item in reply]
        return [_text(reply)]

    def create(self, ref: VerificationRef, digest: bytes, now: int, fields: dict[str, str]) -> Sent:
        """A new verification with `ref` as its first handle, or a resend of the pending one
        under `ref` as a new handle."""
        limits = self.limits
        args: list[Any] = [ref.rand, digest, now, limits.ttl, limits.resend_cooldown]
        args += [limits.phone_hourly, limits.phone_daily, limits.max_sends, fields["c"]]
        for name, value in _stored(fields).items():
            args += [name, value]
        reply = self._run("create", [ref.key, ref.quota_key], args)
        return _sent(reply, limits.resend_cooldown)

    def resend(self, ref: VerificationRef, now: int, channel: str) -> Sent:
        """Send again for the holder of the handle `ref`."""
        limits = self.limits
        args = [ref.rand, now, limits.resend_cooldown, limits.max_sends]
        args += [limits.phone_hourly, limits.phone_daily, channel, limits.max_attempts]
        reply = self._run("resend", [ref.key, ref.quota_key], args)
        return _sent(reply, limits.resend_cooldown)

    def verify(self, ref: VerificationRef, digest: bytes) -> Checked:
        """Check a code for the handle `ref` (rand '' for a trusted check by destination)."""
        return _checked(
            self._run("verify", [ref.key], [ref.rand, digest, self.limits.max_attempts])
        )

    def approve(self, ref: VerificationRef) -> Checked:
        """Approve the pending verification `ref` is a handle of, without a code."""
        return _checked(self._run("approve", [ref.key], [ref.rand]))

    def cancel(self, ref: VerificationRef) -> str | None:
        """Cancel the pending verification `ref` is a handle of; its first handle, or None."""
        root: str | None = self._run("cancel", [ref.key], [ref.rand])[0]
        return root or None

    def record(self, batch: Batch, ref: VerificationRef, lines: str, failed: bool) -> None:
        """Queue the attempts of one send on `batch`."""
        args = [ref.rand, lines, "f" if failed else ""]
        batch.script(self._scripts["record"], [ref.key], args)

    def journal(self, ref: VerificationRef, line: str) -> None:
        """Note the attempt in flight of a queued send (`record` drops it, `settle` keeps it)."""
        self._run("journal", [ref.key], [ref.rand, line])

    def settle(self, ref: VerificationRef) -> bool:
        """Keep the attempt a dead worker left in flight, as unconfirmed; whether there was one."""
        return bool(self._run("settle", [ref.key], [ref.rand])[0])

    def claim_send(self, ref: VerificationRef, send: int) -> bool:
        """Whether this is the first attempt at send number `send` (the queue's marker)."""
        return bool(self.client.set(ref.marker_key(send), "1", nx=True, ex=self.limits.ttl))

    def mark_failed(self, ref: VerificationRef) -> None:
        batch = Batch(self.client)
        self.record(batch, ref, "", failed=True)
        batch.execute()

    def receipt(self, ref: VerificationRef, message_id: str, status: str, code: str) -> str | None:
        """Record a delivery report: the verification's country when the report is new, None
        when it was seen before or the verification is gone."""
        reply = self._run("receipt", [ref.key], [ref.rand, message_id, status, code])
        return _complete({"to": reply[2], "cc": reply[1]})["cc"] if reply[0] == "new" else None

    def load(self, ref: VerificationRef, any_rand: bool = False) -> dict[str, str] | None:
        """The verification's fields (without the digest) and its seconds to live under
        "ttl", or None if unknown, expired, or not one of `ref`'s handles."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(ref.key)
        pipe.ttl(ref.key)
        raw, ttl = pipe.execute()
        if not raw or not (any_rand or ref.rand.encode() in raw or _text(raw[b"r"]) == ref.rand):
            return None
        fields = _complete({_text(k): _text(v) for k, v in raw.items() if k != b"h"})
        fields["ttl"] = str(max(0, ttl))
        return fields
