"""Run a route plan: try each step, fail over, and say what happened.

Nothing here depends on a request context, so the same function runs inline in a request
or as a queued job. Provider health and the receipts index are delivery's own and are queued
on the caller's batch; the caller records the attempts on whatever it delivers for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from app.batch import Batch
from app.metrics import families as metrics

from .conversion import Conversion
from .health import HALF_OPEN, Health
from .providers.base import (
    PLAN_ENDING_FAILURES,
    FailureClass,
    Message,
    Provider,
    ProviderError,
)
from .receipts import Receipts
from .routing import Plan, Step
from .templates import Templates, Texts

log = logging.getLogger(__name__)

# Seconds to wait after a recipient throttle whose provider did not say how long.
RECIPIENT_RETRY_AFTER = 60


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
    writes: Callable[[Batch], None] | None = None  # the provider's, for the batch; not stored


# Told of an attempt (its outcome "sending") just before its provider is called.
Journal = Callable[[Attempt], None]


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
        receipts: Receipts,
        templates: Templates,
        budget: float,
        conversion: Conversion | None = None,
    ) -> None:
        self.providers = providers
        self.health = health
        self.receipts = receipts
        self.templates = templates
        self.budget = budget
        self.conversion = conversion

    def run(
        self,
        plan: Plan,
        message: Message,
        batch: Batch,
        journal: Journal | None = None,
        suspect: bool = False,
    ) -> Outcome:
        """Try the plan's steps in order until one provider accepts the message (its channel,
        text and sender are the step's); health, the receipts index and the conversion count
        go on `batch`. `journal`, when given, is told of each attempt just before its provider
        is called. A `suspect` send (the fraud guard's) is left out of conversion."""
        message, texts = self._texts(message, plan)
        outcome = Outcome()
        deadline = time.monotonic() + self.budget
        for step in plan.steps:
            if time.monotonic() > deadline:
                outcome.failure = "budget"
                break
            text = texts.for_channel(step.channel)
            step_message = replace(message, channel=step.channel, sender=step.sender, text=text)
            attempt = self._attempt(step, step_message, journal)
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
        self._record(batch, message, outcome)
        if outcome.delivered and self.conversion and not suspect:
            delivered = outcome.delivered
            self.conversion.sent(batch, delivered.provider, message.country, delivered.channel)
        return outcome

    def _texts(self, message: Message, plan: Plan) -> tuple[Message, Texts]:
        """The message with its application's name, and its texts. An app hash in an SMS too
        long for the SMS Retriever is sent all the same (the code still arrives), and logged."""
        message = replace(message, app=message.app or self.templates.app_name)
        texts = self.templates.render(message)
        by_sms = any(step.channel == "sms" for step in plan.steps)
        if message.app_hash and by_sms and not texts.fits_retriever():
            log.warning(
                "SMS text %s.%s over 140 bytes with the app hash: the SMS Retriever skips it",
                message.purpose,
                texts.tag,
                extra={"verification_id": message.verification_id},
            )
        return message, texts

    def _attempt(self, step: Step, message: Message, journal: Journal | None) -> Attempt:
        attempt = Attempt(
            step.provider, step.channel, step.own_numbers, time.time(), cost=step.cost
        )
        if not self._may_probe(step, message.country):
            attempt.outcome, attempt.error_class = "skipped", "probe_in_flight"
        elif not self.health.reserve(step.provider, attempt.started):
            attempt.outcome, attempt.error_class = "skipped", "quota_used_up"
        else:
            if journal is not None:
                journal(replace(attempt, outcome="sending"))
            self._send(step.provider, message, attempt)
            if attempt.outcome == "failed":  # the provider did not take it
                self.health.give_back(step.provider, attempt.started)
        attempt.finished = time.time()
        metrics.SENDS.labels(step.provider, message.country, step.channel, attempt.outcome).inc()
        if attempt.outcome in {"sent", "failed"}:
            latency = attempt.finished - attempt.started
            metrics.PROVIDER_DURATION.labels(step.provider).observe(latency)
        if attempt.outcome == "sent" and step.own_numbers:
            metrics.OWN_NUMBERS.labels(step.provider, message.country, step.channel).inc()
        log.info(
            "send attempt",
            extra={
                "verification_id": message.verification_id,
                "provider": step.provider,
                "country": message.country,
                "channel": step.channel,
                "outcome": attempt.outcome,
                "latency_ms": round((attempt.finished - attempt.started) * 1000, 1),
            },
        )
        return attempt

    def _may_probe(self, step: Step, country: str) -> bool:
        state = self.health.snapshot(country, [step.provider])[step.provider].state
        return state != HALF_OPEN or self.health.claim_probe(step.provider, country)

    def _send(self, provider: str, message: Message, attempt: Attempt) -> None:
        try:
            result = self.providers[provider].send(message)
        except ProviderError as exc:
            attempt.outcome, attempt.error_class = "failed", exc.failure.value
            attempt.error_code = exc.provider_code or ""
            if exc.failure is FailureClass.RECIPIENT_THROTTLED:
                attempt.retry_after = exc.retry_after or RECIPIENT_RETRY_AFTER
            return
        except Exception:
            # A bug in an adapter is not a provider failure: it must surface, not fail over.
            log.exception("provider adapter raised", extra={"provider": provider})
            attempt.outcome, attempt.error_class = "error", "adapter_error"
            return
        attempt.message_id = result.message_id
        if result.cost is not None:
            attempt.cost = result.cost
        attempt.fallback = result.fallback or ""
        attempt.writes = result.writes

    def _record(self, batch: Batch, message: Message, outcome: Outcome) -> None:
        """Queue the breaker outcomes and the receipts index on `batch` (each send took its
        quota before it went)."""
        if outcome.delivered:
            delivered = outcome.delivered
            self.receipts.remember(
                batch, delivered.provider, delivered.message_id, message.verification_id
            )
            if delivered.writes is not None:
                delivered.writes(batch)
        for attempt in outcome.attempts:
            if attempt.outcome in {"sent", "failed"}:
                failure = attempt.error_class or None
                self.health.record(batch, attempt.provider, message.country, failure)


def _stop_reason(attempt: Attempt) -> str:
    """Why the plan ends after this attempt ("" to go on): an adapter bug, or a failure about
    the recipient that another provider would only repeat or sidestep."""
    if attempt.outcome == "error":
        return "error"
    return attempt.error_class if attempt.error_class in PLAN_ENDING_FAILURES else ""
