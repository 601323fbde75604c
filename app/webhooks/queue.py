"""Webhook jobs in Redis: a queue, one processing list per sender, retries and expiry events.

Every key is under `otp:webhooks:` with one Cluster hash tag, so the scripts and pipelines
here touch a single slot. A job moves queue -> processing:<sender> (BLMOVE) -> gone when
delivered, or -> retries (a sorted set by due time) -> queue when its backoff has passed. A
sender's heartbeat is its score in `senders`; a sender silent for too long is dead and its
processing list goes back to the queue.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from app import keys, luascripts
from app.batch import Batch

QUEUE_BOUND = 100_000  # jobs waiting; beyond it the oldest are dropped (and logged)
DUE_PER_CALL = 100


@dataclass(frozen=True)
class Job:
    """One event for one endpoint; `id` is the event's and stays the same on every try."""

    id: str
    event: str
    url: str
    body: str
    first: float  # when the event happened: the retry window starts here
    tries: int = 0

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str) -> Job:
        return cls(**json.loads(raw))


def _key(name: str) -> str:
    """Every webhook key shares one hash tag: the scripts move jobs between them."""
    return keys.key("wh", "webhooks", name)


class JobQueue:
    def __init__(self, client: Any, ttl: int) -> None:
        self.client = client
        self.ttl = ttl
        self.queue, self.retries, self.expiries, self.senders = (
            _key(name) for name in ("queue", "retries", "expiries", "senders")
        )
        self.expiry_jobs = _key("expiry-jobs")
        self._emit, self._schedule, self._due = (
            luascripts.register(client, __package__, name) for name in ("emit", "schedule", "due")
        )

    @staticmethod
    def processing(sender: str) -> str:
        return _key(f"processing:{sender}")

    def push(self, jobs: list[str], settle: str = "") -> int:
        """Queue jobs and drop `settle`'s expiry event: one command; the jobs dropped to fit."""
        names = [self.queue, self.expiries, self.expiry_jobs]
        return int(self._emit(keys=names, args=[QUEUE_BOUND, self.ttl, settle, *jobs]))

    def schedule(self, verification_id: str, due: float, jobs: list[str], now: float) -> None:
        """Queue `jobs` at `due` unless the verification is settled first."""
        ttl = int(max(0.0, due - now)) + self.ttl
        args = [verification_id, due, json.dumps(jobs), ttl]
        self._schedule(keys=[self.expiries, self.expiry_jobs], args=args)

    def tick(self, sender: str, now: float) -> None:
        """The sender's heartbeat and the move of due jobs to the queue, in one round trip."""
        batch = Batch(self.client)
        batch.pipe.zadd(self.senders, {sender: now})
        batch.pipe.expire(self.senders, self.ttl)
        batch.pipe.expire(self.processing(sender), self.ttl)
        names = [self.queue, self.retries, self.expiries, self.expiry_jobs]
        batch.script(self._due, names, [now, DUE_PER_CALL, self.ttl])
        batch.execute()

    def claim(self, sender: str, block: float | None) -> bytes | None:
        """The oldest queued job, moved to the sender's processing list; wait up to `block` s."""
        target = self.processing(sender)
        if block is None:
            raw: bytes | None = self.client.lmove(self.queue, target, "RIGHT", "LEFT")
        else:
            raw = self.client.blmove(self.queue, target, block, "RIGHT", "LEFT")
        return raw

    def done(self, sender: str, raw: bytes) -> None:
        self.client.lrem(self.processing(sender), 1, raw)

    def retry(self, sender: str, raw: bytes, job: Job, due: float) -> None:
        # Added before it is released: a crash in between repeats a try rather than losing it.
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.retries, {job.encode(): due})
        pipe.expire(self.retries, self.ttl)
        pipe.lrem(self.processing(sender), 1, raw)
        pipe.execute()

    def silent_senders(self, since: float) -> list[str]:
        """Senders whose last heartbeat is older than `since`."""
        found = self.client.zrangebyscore(self.senders, "-inf", f"({since}")
        return [s.decode() if isinstance(s, bytes) else s for s in found]

    def recover(self, sender: str) -> int:
        """Give a dead sender's claimed jobs back to the queue, next in line; how many."""
        moved = 0
        while self.client.lmove(self.processing(sender), self.queue, "RIGHT", "RIGHT"):
            moved += 1
        if moved:
            self.client.expire(self.queue, self.ttl)
        self.leave(sender)
        return moved

    def leave(self, sender: str) -> None:
        self.client.zrem(self.senders, sender)
