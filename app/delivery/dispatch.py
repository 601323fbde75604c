"""Run a route plan: try each step, fail over, record every attempt.

Nothing here depends on a request context, so the same function runs inline in a request
or as a queued job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.batch import Batch
from app.metrics import families as metrics
from app.verification.codes import VerificationRef
from app.verification.store import Store

from .health import HALF_OPEN, Health
from .providers.base import RECIPIENT_FAILURES, FailureClass, Message, Provider, ProviderError
from .receipts import Receipts
from .routing import Plan, Step
from .templates import Templates

log = logging.getLogger(__name__)

# Seconds to wait after a recipient throttle whose provider did not say how long.
RECIPIENT_RETRY_AFTER = 60


@dataclass(frozen=True)
class Draft:
    """What every attempt of one send shares."""

    ref: VerificationRef
    to: str
    country: str
    purpose: str
    locale: str
    code: str
    ttl_minutes: int


@dataclass
class Attempt:
    provider: str
    channel: str
    own_numbers: bool
    started: float
    finished: float = 0.0
    outcome: str = "sent"  # sent, failed, skipped, error
    message_id: str = ""
    error_class: str = ""
    error_code: str = ""
    cost: float | None = None
    fallback: str = ""  # a channel the provider itself falls back to, armed with this send
    retry_after: int | None = None  # a recipient throttle's wait; not stored

    def line(self) -> str:
        """One compact line per attempt, stored on the verification: short enough (with a
        console-sized message id) that Redis keeps the hash in its compact encoding."""
        values = [
            self.provider,
            self.channel,
            int(self.own_numbers),
            round(self.started * 1000),
            round((self.finished - self.started) * 1000),
            self.outcome,
            self.message_id,
            self.error_class,
            self.error_code,
            "" if self.cost is None else self.cost,
            self.fallback,
        ]
        return "|".join(str(v).replace("|", "/").replace("\n", " ") for v in values) + "\n"

    @classmethod
    def parse(cls, line: str) -> dict[str, Any]:
        """The attempt a stored line describes, as the API shows it."""
        # Lines stored before the fallback field have ten fields.
        provider, channel, own, started, took, outcome, message_id, klass, code, cost, *more = (
            line.split("|")
        )
        return {
            "provider": provider,
            "channel": channel,
            "own_numbers": own == "1",
            "started": int(started) / 1000,
            "finished": (int(started) + int(took)) / 1000,
            "outcome": outcome,
            "message_id": message_id,
            "error_class": klass,
            "error_code": code,
            "cost": float(cost) if cost else None,
            "fallback": more[0] if more and more[0] else None,
        }


def last_sent(lines: str) -> dict[str, Any] | None:
    """The last attempt that was accepted, from a verification's stored lines."""
    sent = [Attempt.parse(line) for line in lines.splitlines() if line]
    sent = [attempt for attempt in sent if attempt["outcome"] == "sent"]
    return sent[-1] if sent else None


def last_delivered(lines: str) -> str | None:
    """The provider of the last attempt that was accepted."""
    attempt = last_sent(lines)
    return attempt["provider"] if attempt else None


@dataclass
class Outcome:
    attempts: list[Attempt] = field(default_factory=list)
    delivered: Attempt | None = None
    failure: str = ""  # permanent, recipient_throttled, exhausted, budget, error
    retry_after: int | None = None  # with recipient_throttled: seconds until a send may pass


class Dispatcher:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        health: Health,
        store: Store,
        receipts: Receipts,
        templates: Templates,
        budget: float,
    ) -> None:
        self.providers = providers
        self.health = health
        self.store = store
        self.receipts = receipts
        self.templates = templates
        self.budget = budget

    def run(self, plan: Plan, draft: Draft) -> Outcome:
        """Try the plan's steps in order until one provider accepts the message."""
        outcome = Outcome()
        deadline = time.monotonic() + self.budget
        for step in plan.steps:
            if time.monotonic() > deadline:
                outcome.failure = "budget"
                break
            attempt = self._attempt(step, draft)
            outcome.attempts.append(attempt)
            if attempt.outcome == "sent":
                outcome.delivered = attempt
                break
            stop = _stop_reason(attempt)
            if stop:
                outcome.failure, outcome.retry_after = stop, attempt.retry_after
                break
        else:
            outcome.failure = "" if outcome.delivered else "exhausted"
        self._record(draft, outcome)
        return outcome

    def _attempt(self, step: Step, draft: Draft) -> Attempt:
        attempt = Attempt(
            step.provider, step.channel, step.own_numbers, time.time(), cost=step.cost
        )
        if not self._may_probe(step, draft.country):
            attempt.outcome, attempt.error_class = "skipped", "probe_in_flight"
        else:
            self._send(step, draft, attempt)
        attempt.finished = time.time()
        metrics.SENDS.labels(step.provider, draft.country, step.channel, attempt.outcome).inc()
        if attempt.outcome in {"sent", "failed"}:
            latency = attempt.finished - attempt.started
            metrics.PROVIDER_DURATION.labels(step.provider).observe(latency)
        if attempt.outcome == "sent" and step.own_numbers:
            metrics.OWN_NUMBERS.labels(step.provider, draft.country, step.channel).inc()
        log.info(
            "send attempt",
            extra={
                "verification_id": draft.ref.id,
                "provider": step.provider,
                "country": draft.country,
                "channel": step.channel,
                "outcome": attempt.outcome,
                "latency_ms": round((attempt.finished - attempt.started) * 1000, 1),
            },
        )
        return attempt

    def _may_probe(self, step: Step, country: str) -> bool:
        state = self.health.snapshot(country, [step.provider])[step.provider].state
        return state != HALF_OPEN or self.health.claim_probe(step.provider, country)

    def _send(self, step: Step, draft: Draft, attempt: Attempt) -> None:
        text = self.templates.render(draft.purpose, draft.locale, draft.code, draft.ttl_minutes)
        message = Message(
            to=draft.to,
            channel=step.channel,
            purpose=draft.purpose,
            locale=draft.locale,
            code=draft.code,
            ttl_minutes=draft.ttl_minutes,
            text=text,
            verification_id=draft.ref.id,
            sender=step.sender,
            app=self.templates.app_name,
        )
        try:
            result = self.providers[step.provider].send(message)
        except ProviderError as exc:
            attempt.outcome, attempt.error_class = "failed", exc.failure.value
            attempt.error_code = exc.provider_code or ""
            if exc.failure is FailureClass.RECIPIENT_THROTTLED:
                attempt.retry_after = exc.retry_after or RECIPIENT_RETRY_AFTER
            return
        except Exception:
            # A bug in an adapter is not a provider failure: it must surface, not fail over.
            log.exception("provider adapter raised", extra={"provider": step.provider})
            attempt.outcome, attempt.error_class = "error", "adapter_error"
            return
        attempt.message_id = result.message_id
        if result.cost is not None:
            attempt.cost = result.cost
        attempt.fallback = result.fallback or ""

    def _record(self, draft: Draft, outcome: Outcome) -> None:
        """Attempts, breaker outcomes and quota counts: one round trip."""
        batch = Batch(self.store.client)
        lines = "".join(a.line() for a in outcome.attempts)
        self.store.record(batch, draft.ref, lines, failed=outcome.delivered is None)
        if outcome.delivered:
            delivered = outcome.delivered
            self.receipts.remember(batch, delivered.provider, delivered.message_id, draft.ref.id)
        for attempt in outcome.attempts:
            if attempt.outcome in {"sent", "failed"}:
                failure, sent = attempt.error_class or None, attempt.outcome == "sent"
                self.health.record(batch, attempt.provider, draft.country, failure, sent)
        batch.execute()


def _stop_reason(attempt: Attempt) -> str:
    """Why the plan ends after this attempt ("" to go on): an adapter bug, or a failure about
    the recipient that another provider would only repeat or sidestep."""
    if attempt.outcome == "error":
        return "error"
    return attempt.error_class if attempt.error_class in RECIPIENT_FAILURES else ""
