"""The development provider: prints the message and keeps it in the outbox."""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, Self

from app import keys
from app.batch import Batch

from .base import CHANNELS, Message, ProviderContext, SendResult

OUTBOX_SIZE = 200
OUTBOX_TTL = 86400


class Outbox:
    """The last messages sent, newest first, in Redis so every worker shares them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.key = keys.key("outbox", "messages")

    def push(self, entry: dict[str, Any], batch: Batch) -> None:
        """Keep `entry`, written with the rest of `batch`."""
        batch.pipe.lpush(self.key, json.dumps(entry, separators=(",", ":")))
        batch.pipe.ltrim(self.key, 0, OUTBOX_SIZE - 1)
        batch.pipe.expire(self.key, OUTBOX_TTL)

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        entries = [json.loads(raw) for raw in self.client.lrange(self.key, 0, -1)]
        return [entry for entry in entries if to is None or entry["to"] == to]


class ConsoleProvider:
    """Serves every channel; the one place a code is shown in clear, by design."""

    kind: ClassVar[str] = "console"
    serves: ClassVar[frozenset[str]] = CHANNELS

    def __init__(self, name: str, channels: frozenset[str], outbox: Outbox | None) -> None:
        self.name = name
        self.channels = channels
        self.outbox = outbox

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        return cls(name, channels, context.outbox)

    def send(self, message: Message) -> SendResult:
        message_id = "console-" + secrets.token_hex(4)
        print(f"[{self.name}] {message.channel} to {message.to}: {message.text}", file=sys.stderr)
        if self.outbox is None:
            return SendResult(message_id=message_id)
        entry = {
            "id": message_id,
            "to": message.to,
            "channel": message.channel,
            "text": message.text,
            "sent_at": time.time(),
            "verification_id": message.verification_id,
        }
        return SendResult(message_id, writes=partial(self.outbox.push, entry))
