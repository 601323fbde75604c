"""The fraud guard: refuses, or challenges, the sends that look like SMS pumping.

It weighs each send against the sends not followed by an approval of its destination's prefix
and country and of the client's address (docs/fraud-guard.md), before anything is stored. With
the guard off for a country it costs nothing; on, one Redis round trip per request, and the
sends and approvals it counts ride on batches the service sends anyway.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.batch import Batch
from app.errors import ApiError
from app.keys import client_address
from app.metrics import families as metrics
from app.webhooks import Webhooks

from . import keys
from .bot_check import BotCheck
from .config import SCOPES, GuardConfig
from .store import Block, GuardStore, Send

log = logging.getLogger(__name__)
PASSED = frozenset({"passed", "unreachable_open"})
_PREFIX = re.compile(r"^\+[0-9]{2,15}$")


@dataclass(frozen=True)
class Caller:
    """Who asks for a code, as far as the guard cares."""

    ip: str | None = None  # the client's address as the service sees it
    captcha_token: str | None = None
    trusted: bool = False  # an API key: no address is counted and no bot check asked


TRUSTED = Caller(trusted=True)


class Guard:
    def __init__(
        self,
        client: Any,
        config: GuardConfig,
        webhooks: Webhooks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = GuardStore(client, config)
        self.webhooks = webhooks
        self.bot_check = BotCheck(config.bot_check) if config.bot_check else None
        self.clock = clock

    def admit(self, to: str, country: str, caller: Caller | None, challenge: bool = True) -> bool:
        """Let a send through, refuse it (fraud_blocked), or ask for a bot check
        (challenge_required); True when it goes through as suspect (monitor mode)."""
        caller = caller or TRUSTED
        check = self.bot_check if challenge and not caller.trusted else None
        if check is not None and check.always:
            self._challenge(check, caller, "always")
        mode = self.config.mode_for(country)
        block = self._blocked(to, country, caller, mode) if mode != "off" else None
        if block is None:
            return False
        if mode == "monitor":
            metrics.GUARD_SUSPECT.labels(block.scope).inc()
            return True
        if check is not None and not check.always:  # a person gets through a block
            self._challenge(check, caller, block.scope)
            return False
        metrics.GUARD_REFUSALS.labels(block.scope, "fraud_blocked").inc()
        raise ApiError(
            "fraud_blocked",
            "Codes to this destination are held back for now; try later.",
            {"reason": block.scope},
            retry_after=max(1, block.until - int(self.clock())),
        )

    def _blocked(self, to: str, country: str, caller: Caller, mode: str) -> Block | None:
        """The block in the way of a send (one round trip), announcing those placed now."""
        send = self._send(to, country, caller)
        blocks = self.store.check(send, mode, self.clock()) if send else []
        for placed in (block for block in blocks if block.placed):
            self._announce("fraud.blocked", placed, country)
        return blocks[0] if blocks else None

    def _send(self, to: str, country: str, caller: Caller) -> Send | None:
        """What the guard counts of a send; None for what it leaves alone: an address without
        a number (e-mail, WeChat) and the safe list."""
        code = keys.calling_code(to)
        if code is None or to.startswith(self.config.safe_list):
            return None
        ip = None if caller.trusted else client_address(caller.ip)
        return Send(keys.prefix_of(to, self.config.prefix_digits), country, code, ip)

    def _challenge(self, check: BotCheck, caller: Caller, reason: str) -> None:
        """Go on when the caller's bot-check token passes; else challenge_required."""
        verdict = check.verdict(caller.captcha_token, caller.ip)
        if verdict in PASSED:
            return
        metrics.GUARD_REFUSALS.labels(reason, "challenge_required").inc()
        config = check.config
        raise ApiError(
            "challenge_required",
            "Prove this is a person: solve the bot check and send its token as captcha_token.",
            {
                "reason": reason,
                "failed": verdict,
                "provider": config.provider,
                "site_key": config.site_key,
            },
        )

    def sent(self, batch: Batch, to: str, country: str) -> None:
        """Queue the count of a send a provider accepted."""
        send = self._counted(to, country, TRUSTED)
        if send is not None:
            self.store.count(batch, send, self.clock(), "s")

    def approved(self, batch: Batch, to: str, country: str, caller: Caller | None) -> None:
        """Queue an approval: it takes a send out of "unverified", and marks the country
        verified for the caller's address."""
        send = self._counted(to, country, caller or TRUSTED)
        if send is None:
            return
        now = self.clock()
        self.store.count(batch, send, now, "a")
        if send.ip is not None:
            self.store.verified(batch, send.ip, country, now)

    def _counted(self, to: str, country: str, caller: Caller) -> Send | None:
        return self._send(to, country, caller) if self.config.mode_for(country) != "off" else None

    def blocks(self) -> list[Block]:
        """Every block in force (SCAN: for operators)."""
        return self.store.blocks(self.clock())

    def unblock(self, scope: str, value: str, by: str) -> dict[str, Any]:
        """Lift a block before its end; the block as it was, or not_found."""
        normal = _normal(scope, value)
        block = self.store.lift(scope, normal, self.clock())
        if block is None:
            raise ApiError("not_found", f"No {scope} block of {value} is in force.")
        metrics.GUARD_UNBLOCKS.labels(scope, by).inc()
        self._announce("fraud.unblocked", block, normal if scope == "country" else "")
        return {**describe(block, self.clock()), "lifted": True}

    def _announce(self, event: str, block: Block, country: str) -> None:
        """A block placed or lifted: a metric, a log line and a webhook event."""
        if event == "fraud.blocked":
            metrics.GUARD_BLOCKS.labels(block.scope, block.mode).inc()
        words = "blocked" if event == "fraud.blocked" else "unblocked"
        log.warning(
            "fraud guard %s %s %s (step %s, %s): %s",
            words,
            block.scope,
            block.value,
            block.step,
            block.mode,
            cause(block),
            extra={"reason": block.scope, "country": country or None},
        )
        data = {
            "scope": block.scope,
            "value": block.value,
            "mode": block.mode,
            "step": block.step,
            "until": block.until,
            "reason": cause(block),
        }
        self.webhooks.emit(event, {**data, "country": country} if country else data)


def cause(block: Block) -> str:
    """What placed a block, in words."""
    count, limit = float(block.count), float(block.limit)
    if block.scope == "ip" and block.window == "day":
        return f"{count:g} countries asked for today and none verified (limit {limit:g})"
    return f"{count:g} unverified sends in the sliding {block.window} (limit {limit:g})"


def describe(block: Block, now: float) -> dict[str, Any]:
    """A block as the API and `flask otp guard` show it."""
    return {
        "scope": block.scope,
        "value": block.value,
        "mode": block.mode,
        "step": block.step,
        "until": block.until,
        "expires_in": max(0, block.until - int(now)),
        "cause": cause(block),
    }


def _normal(scope: str, value: str) -> str:
    """A block's value as the guard files it; validation_error when it cannot be one."""
    normal = None
    if scope == "prefix" and _PREFIX.match(value) and keys.calling_code(value):
        normal = value
    elif scope == "country" and keys.country_calling_code(value):
        normal = value.upper()
    elif scope == "ip":
        normal = _address(value)
    if normal:
        return normal
    fields = {"scope": [f"One of {', '.join(SCOPES)}."]} if scope not in SCOPES else {}
    raise ApiError("validation_error", f"Not a {scope} to unblock: {value!r}.", {"fields": fields})


def _address(value: str) -> str | None:
    """An address, or the /64 an IPv6 block is filed under."""
    if "/" not in value:
        return client_address(value)
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return None
