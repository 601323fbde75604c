"""The verification lifecycle: create, resend, verify, cancel, look up."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from rq import Queue

from app.delivery import jobs, phone
from app.delivery.dispatch import Dispatcher, Draft, Outcome, last_delivered, last_sent
from app.delivery.routing import EMAIL_COUNTRY, Plan, Router
from app.errors import ApiError
from app.metrics import families as metrics
from app.webhooks import Webhooks

from . import status
from .codes import Codes, VerificationRef
from .store import STATUS_NAMES, Store
from .tokens import TokenSigner


@dataclass(frozen=True)
class CodeRequest:
    phone: str | None
    country: str | None
    email: str | None
    channel: str
    purpose: str
    locale: str


@dataclass(frozen=True)
class Target:
    """Where a code goes: the key it is filed under, and the country that routes it."""

    to: str
    country: str
    masked: str


@dataclass(frozen=True)
class Send:
    """One send of a verification's code."""

    ref: VerificationRef
    code: str
    number: int  # 1 for the first send, 2 for the first resend ...
    resend_after: int
    last_provider: str | None  # the provider that delivered the previous send


def _not_found() -> ApiError:
    return ApiError("not_found", "No pending verification matches.")


class VerificationService:
    def __init__(
        self,
        store: Store,
        codes: Codes,
        router: Router,
        dispatcher: Dispatcher,
        signer: TokenSigner,
        webhooks: Webhooks,
        queue: Queue | None = None,
    ) -> None:
        self.store = store
        self.codes = codes
        self.router = router
        self.dispatcher = dispatcher
        self.signer = signer
        self.webhooks = webhooks
        self.queue = queue  # set: deliveries are queued for `flask otp worker`

    def target(self, req: CodeRequest) -> Target:
        """Rule 1: parse and classify the destination before anything is stored."""
        if req.channel == "email":
            if not req.email:
                raise ApiError(
                    "validation_error",
                    "The email channel needs an email address.",
                    {"fields": {"email": ["Required for the email channel."]}},
                )
            address = req.email.lower()
            return Target(address, EMAIL_COUNTRY, phone.mask_email(address))
        if not req.phone:
            raise ApiError(
                "validation_error",
                "A phone number is required.",
                {"fields": {"phone": ["Missing data for required field."]}},
            )
        destination = phone.parse(req.phone, req.country)
        phone.check_channel(destination, req.channel)
        return Target(destination.e164, destination.country, phone.mask(destination.e164))

    def request(self, req: CodeRequest) -> dict[str, Any]:
        """Create a verification and send its code, or resend a pending one."""
        target = self.target(req)
        ref = self.codes.ref_for(target.to, req.purpose)
        test_number = self.codes.is_test_number(target.to)
        plan = None if test_number else self._plan(target.country, req.channel, ref.id, None)
        now = int(time.time())
        send = self._create_or_resend(ref, target, req, now)
        ref = send.ref
        if plan is not None and send.number > 1:  # rule 8, and the draw of this verification
            plan = self._plan(target.country, req.channel, ref.id, send.last_provider)
        route = self._send(plan, send, target, req)
        if send.number == 1:
            data = status.event_data(
                ref.id, "pending", req.channel, target.masked, target.country, req.purpose
            )
            expires_at = now + self.store.limits.ttl
            self.webhooks.schedule_expiry({**data, "provider": route["provider"]}, expires_at)
        return {
            "id": ref.id,
            "status": "pending",
            "channel": req.channel,
            "to": target.masked,
            "expires_in": self.store.limits.ttl,
            "resend_after": send.resend_after,
            "route": route,
        }

    def _create_or_resend(
        self, ref: VerificationRef, target: Target, req: CodeRequest, now: int
    ) -> Send:
        """A new verification, or a resend of the one pending for this destination and purpose."""
        fields = {
            "to": target.to,
            "c": req.channel,
            "pu": req.purpose,
            "cc": target.country,
            "lo": req.locale,
        }
        code = self.codes.code(ref.id, target.to)
        reply = self.store.create(ref, self.codes.digest(ref, code), now, fields)
        if reply[0] == "limited":
            raise _phone_limited(int(reply[1]))
        if reply[0] == "created":
            metrics.VERIFICATIONS.labels("created").inc()
            return Send(ref, code, 1, self.store.limits.resend_cooldown, None)
        ref = ref.with_rand(reply[1])
        number, resend_after, last = self._resend(ref, now, req.channel)
        metrics.VERIFICATIONS.labels("resent").inc()
        return Send(ref, self.codes.code(ref.id, target.to), number, resend_after, last)

    def _send(
        self, plan: Plan | None, send: Send, target: Target, req: CodeRequest
    ) -> dict[str, Any]:
        """Deliver now, or queue the delivery; a test number gets nothing."""
        if plan is None:
            return {"provider": None, "own_numbers": False, "test_number": True}
        if self.queue is not None:
            jobs.enqueue(self.queue, send.ref.id, send.number, self.store.limits.ttl)
            return {"provider": None, "own_numbers": False, "queued": True}
        minutes = math.ceil(self.store.limits.ttl / 60)
        draft = Draft(
            send.ref, target.to, target.country, req.purpose, req.locale, send.code, minutes
        )
        return self._deliver(plan, draft, req.channel, target.masked)

    def deliver_queued(self, verification_id: str, send: int) -> str:
        """A queued send: nothing when the verification ended, at most once per send."""
        ref = self.codes.parse_id(verification_id)
        fields = self.store.load(ref) if ref else None
        if ref is None or fields is None or fields["s"] != "p":
            return "skipped"
        if not self.store.claim_send(ref, send):
            return "duplicate"
        last = last_delivered(fields.get("at", "")) if send > 1 else None
        masked = status.masked(fields)
        try:
            plan = self._plan(fields["cc"], fields["c"], verification_id, last)
            minutes = math.ceil(self.store.limits.ttl / 60)
            code = self.codes.code(verification_id, fields["to"])
            draft = Draft(
                ref, fields["to"], fields["cc"], fields["pu"], fields["lo"], code, minutes
            )
            self._deliver(plan, draft, fields["c"], masked)
        except ApiError as exc:
            if exc.code == "no_route":  # the route went away while the job waited
                self.store.mark_failed(ref)
            return exc.code
        return "sent"

    def _resend(self, ref: VerificationRef, now: int, channel: str) -> tuple[int, int, str | None]:
        """Send number, seconds to the next resend, and the provider that delivered last."""
        reply = self.store.resend(ref, now, channel)
        status = reply[0]
        if status == "cooldown":
            raise ApiError(
                "rate_limited",
                "Wait before asking for the code again.",
                {"id": ref.id, "reason": "resend_cooldown"},
                retry_after=int(reply[1]),
            )
        if status == "max_sends":
            raise ApiError(
                "rate_limited",
                "This verification has been sent too many times.",
                {"id": ref.id, "reason": "max_sends"},
                retry_after=int(reply[1]),
            )
        if status == "limited":
            raise _phone_limited(int(reply[1]))
        if status == "not_found":  # expired or answered between the two scripts
            raise ApiError("rate_limited", "Try again.", {"reason": "race"}, retry_after=1)
        return int(reply[1]), int(float(reply[2])), last_delivered(reply[3] or "")

    def _plan(self, country: str, channel: str, seed: str, avoid: str | None) -> Plan:
        try:
            return self.router.plan(country, channel, seed, avoid)
        except ApiError as exc:
            if exc.code == "no_route":
                metrics.NO_ROUTE.labels(country, channel).inc()
            raise

    def _deliver(self, plan: Plan, draft: Draft, channel: str, masked: str) -> dict[str, Any]:
        outcome = self.dispatcher.run(plan, draft)
        if outcome.delivered is None:
            metrics.VERIFICATIONS.labels("failed").inc()
            error = _delivery_failed(draft.ref, outcome)
            if self.webhooks.wants("delivery.failed"):
                data = status.event_data(
                    draft.ref.id, "failed", channel, masked, draft.country, draft.purpose
                )
                self.webhooks.emit("delivery.failed", {**data, **error.details})
            raise error
        return {
            "provider": outcome.delivered.provider,
            "own_numbers": outcome.delivered.own_numbers,
            "channel": outcome.delivered.channel,
            "attempts": len(outcome.attempts),
        }

    def verify(self, ref: VerificationRef, code: str) -> dict[str, Any]:
        """Check a code in one atomic step; approval returns a signed token."""
        reply = self.store.verify(ref, self.codes.digest(ref, code))
        status = reply[0]
        metrics.VERIFY_OUTCOMES.labels(status).inc()
        if status == "approved":
            rand, to, purpose, lines, country = reply[1:6]
            verification_id = ref.with_rand(rand).id
            token = self.signer.sign(to, purpose, verification_id)
            self._notify("verification.approved", ref.with_rand(rand))
            metrics.VERIFICATIONS.labels("approved").inc()
            sent = last_sent(lines)
            if sent:
                metrics.APPROVALS.labels(sent["provider"], country, sent["channel"]).inc()
            return {"id": verification_id, "status": "approved", "token": token}
        if status == "invalid_code":
            raise ApiError(
                "invalid_code", "The code is not correct.", {"attempts_left": int(reply[1])}
            )
        if status == "too_many_attempts":
            self._notify("verification.failed", ref)
            metrics.VERIFICATIONS.labels("failed").inc()
            raise ApiError("too_many_attempts", "Too many wrong codes; request a new one.")
        raise _not_found()

    def ref_for_verify(
        self, verification_id: str | None, req: CodeRequest | None
    ) -> VerificationRef:
        """The slot to check: from an id, or from a phone (or e-mail) and purpose."""
        if verification_id is not None:
            ref = self.codes.parse_id(verification_id)
            if ref is None:
                raise _not_found()
            return ref
        assert req is not None
        return self.codes.ref_for(self.target(req).to, req.purpose).with_rand("")

    def status(self, verification_id: str) -> dict[str, Any]:
        ref = self.codes.parse_id(verification_id)
        fields = self.store.load(ref) if ref else None
        if fields is None:
            raise _not_found()
        return status.describe(verification_id, fields, self._route_now(verification_id, fields))

    def _route_now(self, verification_id: str, fields: dict[str, str]) -> dict[str, object]:
        """The plan a send of this verification would follow now, with every step's reason."""
        try:
            avoid = last_delivered(fields.get("at", ""))
            plan = self.router.plan(fields["cc"], fields["c"], verification_id, avoid)
        except ApiError as exc:
            return {"error": exc.code, **exc.details}
        return plan.explain()

    def last_provider(self, ref: VerificationRef) -> str | None:
        """The provider that last delivered a pending verification's code, if any."""
        fields = self.store.load(ref, any_rand=True)
        return last_delivered(fields.get("at", "")) if fields else None

    def _notify(self, event: str, ref: VerificationRef) -> None:
        """Tell the business system what became of a verification: one read, only if wanted."""
        if not self.webhooks.wants(event):
            return
        fields = self.store.load(ref, any_rand=True)
        if fields is None:
            return
        verification_id, state = ref.with_rand(fields["r"]).id, STATUS_NAMES[fields["s"]]
        data = status.event_data(
            verification_id, state, fields["c"], status.masked(fields), fields["cc"], fields["pu"]
        )
        self.webhooks.emit(event, {**data, "provider": last_delivered(fields.get("at", ""))})

    def cancel(self, verification_id: str) -> dict[str, Any]:
        ref = self.codes.parse_id(verification_id)
        if ref is None or not self.store.cancel(ref):
            raise _not_found()
        metrics.VERIFICATIONS.labels("cancelled").inc()
        self.webhooks.cancel_expiry(verification_id)
        return {"id": verification_id, "status": "cancelled"}


def _phone_limited(retry_after: int) -> ApiError:
    return ApiError(
        "rate_limited",
        "Too many codes sent to this destination; try later.",
        {"reason": "destination_quota"},
        retry_after=retry_after,
    )


def _delivery_failed(ref: VerificationRef, outcome: Outcome) -> ApiError:
    permanent = outcome.failure == "permanent"
    return ApiError(
        "delivery_failed",
        "The code could not be delivered." + (" The destination refused it." if permanent else ""),
        {
            "id": ref.id,
            "reason": outcome.failure,
            "attempts": [
                {
                    "provider": a.provider,
                    "outcome": a.outcome,
                    "error_class": a.error_class,
                    "error_code": a.error_code,
                }
                for a in outcome.attempts
            ],
        },
        status=422 if permanent else 502,
    )
