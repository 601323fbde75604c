"""The verification lifecycle: create, resend, verify, cancel, look up."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from rq import Queue

from app import masking
from app.batch import Batch
from app.delivery import phone
from app.delivery.dispatch import Attempt, Dispatcher, Journal, Outcome
from app.delivery.phone import Destination
from app.delivery.providers.base import Message, Receipt
from app.delivery.routing import Plan, Router
from app.errors import ApiError
from app.guard import Caller, Guard
from app.metrics import families as metrics
from app.webhooks import Webhooks

from . import attempts, jobs, status
from .codes import Codes, VerificationRef
from .store import STATUS_NAMES, Checked, Sent, Store
from .tokens import TokenSigner


@dataclass(frozen=True)
class CodeRequest:
    phone: str | None
    country: str | None
    email: str | None
    channel: str
    purpose: str
    locale: str
    wechat_openid: str | None = None
    app_hash: str | None = None  # Android's SMS Retriever hash, for SMS texts
    friendly_name: str | None = None  # {app} in this verification's texts, for OTP_ISSUER
    caller: Caller | None = None  # None: a trusted backend's own call


@dataclass(frozen=True)
class Send:
    """One send of a verification's code."""

    handle: VerificationRef  # the caller's
    root: VerificationRef  # the verification's first handle: its code, records and jobs
    code: str
    number: int  # 1 for the first send, 2 for the first resend ...
    attempts: str  # the attempt lines recorded before this send
    suspect: bool = False  # let through by the fraud guard's monitor mode


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
        guard: Guard | None = None,
    ) -> None:
        self.store = store
        self.codes = codes
        self.router = router
        self.dispatcher = dispatcher
        self.signer = signer
        self.webhooks = webhooks
        self.queue = queue  # set: deliveries are queued for `flask otp worker`
        self.guard = guard

    def target(self, req: CodeRequest) -> Destination:
        """Rule 1: parse and classify the destination before anything is stored."""
        if req.wechat_openid:  # an Official Account follower: no phone, so no country
            return phone.address(req.wechat_openid)
        if req.channel == "email":
            if not req.email:
                raise ApiError(
                    "validation_error",
                    "The email channel needs an email address.",
                    {"fields": {"email": ["Required for the email channel."]}},
                )
            return phone.address(req.email.lower())
        if not req.phone:
            raise ApiError(
                "validation_error",
                "A phone number is required.",
                {"fields": {"phone": ["Missing data for required field."]}},
            )
        destination = phone.parse(req.phone, req.country)
        phone.check_channel(destination, req.channel)
        return destination

    def request(self, req: CodeRequest, target: Destination) -> dict[str, Any]:
        """Create a verification and send its code; when one is pending for the destination
        and purpose, send its code again under a new handle for this caller.

        Either way the caller gets an id (a handle) of its own: an id is a capability, and
        nobody learns the id of a verification someone else asked for."""
        handle = self.codes.ref_for(target.to, req.purpose)
        # Rule 4: with no route nothing is stored, sent or counted.
        plan = self._plan_for(target, req.channel, handle)
        suspect = self._admit(plan, target, req.caller, challenge=True)
        now = int(time.time())
        fields = {
            "to": target.to,
            "c": req.channel,
            "pu": req.purpose,
            "cc": target.country,
            "lo": req.locale,
            **_texting(req),
        }
        if target.kind:
            fields["k"] = phone.KIND_CODES[target.kind]
        code = self.codes.code(handle.id, target.to)
        sent = self.store.create(handle, self.codes.digest(handle, code), now, fields)
        _refuse(sent)
        root = handle.with_rand(sent.root)
        if root != handle:
            code = self.codes.code(root.id, target.to)
        metrics.VERIFICATIONS.labels(sent.outcome).inc()
        send = Send(handle, root, code, sent.sends, sent.attempts, suspect)
        route = self._send(send, target, req, plan)
        if sent.outcome == "created":
            data = status.event_data(
                root.id, "pending", req.channel, target.masked, target.country, req.purpose
            )
            expires_at = now + self.store.limits.ttl
            self.webhooks.schedule_expiry({**data, "provider": route["provider"]}, expires_at)
        locale = self.dispatcher.templates.locale_for(req.purpose, req.locale)
        ttl = self.store.limits.ttl
        return _pending(handle.id, req.channel, target.masked, ttl, sent, route, locale)

    def resend(self, handle_id: str, caller: Caller | None = None) -> dict[str, Any]:
        """Send the code again for the holder of a handle, on the verification's channel."""
        handle = self.codes.parse_id(handle_id)
        fields = self.store.load(handle) if handle else None
        if handle is None or fields is None:
            raise _not_found()
        target = status.destination(fields)
        plan = self._plan_for(target, fields["c"], handle)
        suspect = self._admit(plan, target, caller, challenge=False)
        sent = self.store.resend(handle, int(time.time()), fields["c"])
        _refuse(sent)
        metrics.VERIFICATIONS.labels(sent.outcome).inc()
        root = handle.with_rand(sent.root)
        code = self.codes.code(root.id, fields["to"])
        req = _stored_request(fields)
        send = Send(handle, root, code, sent.sends, sent.attempts, suspect)
        route = self._send(send, target, req, plan)
        locale = self.dispatcher.templates.locale_for(req.purpose, req.locale)
        ttl = int(fields["ttl"])
        return _pending(handle_id, req.channel, target.masked, ttl, sent, route, locale)

    def _plan_for(self, target: Destination, channel: str, ref: VerificationRef) -> Plan | None:
        """The route for a destination, or None for a test number (nothing is sent to one)."""
        if self.codes.is_test_number(target.to):
            return None
        return self._plan(target.country, channel, ref.seed, target.kind)

    def _admit(
        self, plan: Plan | None, target: Destination, caller: Caller | None, challenge: bool
    ) -> bool:
        """The fraud guard's word before anything is stored (nothing for a test number):
        raises a refusal, or says whether the send goes through as suspect."""
        if plan is None or self.guard is None:
            return False
        return self.guard.admit(target.to, target.country, caller, challenge)

    def _send(
        self, send: Send, target: Destination, req: CodeRequest, plan: Plan | None
    ) -> dict[str, Any]:
        """Deliver now, or queue the delivery; a test number gets nothing."""
        if plan is None:
            return {"provider": None, "own_numbers": False, "test_number": True}
        if self.queue is not None:
            jobs.enqueue(self.queue, send.root.id, send.number, self.store.limits.ttl)
            return {"provider": None, "own_numbers": False, "queued": True}
        if send.number > 1:  # rule 8
            plan = plan.avoiding(attempts.last_delivered(send.attempts))
        message = self._message(send.root, target, req, send.code)
        return self._deliver(
            plan, message, target.masked, send.handle, send.root, suspect=send.suspect
        )

    def _message(
        self, root: VerificationRef, target: Destination, req: CodeRequest, code: str
    ) -> Message:
        """The message of one send; dispatch fills in each step's channel, text and sender."""
        minutes = math.ceil(self.store.limits.ttl / 60)
        return Message(
            target.to,
            req.channel,
            req.purpose,
            req.locale,
            code,
            minutes,
            "",
            root.id,
            app=req.friendly_name or "",
            country=target.country,
            app_hash=req.app_hash or "",
        )

    def deliver_queued(self, verification_id: str, send: int) -> str:
        """A queued send: nothing when the verification ended, at most once per send."""
        ref = self.codes.parse_id(verification_id)
        fields = self.store.load(ref) if ref else None
        if ref is None or fields is None or fields["s"] != "p":
            return "skipped"
        if not self.store.claim_send(ref, send):
            # A worker took this send before and died: what it was sending stays on record.
            self.store.settle(ref)
            return "duplicate"
        last = attempts.last_delivered(fields.get("at", "")) if send > 1 else None
        try:
            target = status.destination(fields)
            plan = self._plan(target.country, fields["c"], ref.seed, target.kind).avoiding(last)
            code = self.codes.code(verification_id, target.to)
            message = self._message(ref, target, _stored_request(fields), code)
            journal = partial(self._journal, ref)
            self._deliver(plan, message, target.masked, ref, ref, journal)
        except ApiError as exc:
            if exc.code == "no_route":  # the route went away while the job waited
                self.store.mark_failed(ref)
            return exc.code
        return "sent"

    def _journal(self, root: VerificationRef, attempt: Attempt) -> None:
        """A queued send's attempt in flight, noted before its provider is called."""
        self.store.journal(root, attempts.lines([attempt]))

    def _plan(self, country: str, channel: str, seed: str, kind: str | None) -> Plan:
        try:
            return self.router.plan(country, channel, seed, kind)
        except ApiError as exc:
            if exc.code == "no_route":
                metrics.NO_ROUTE.labels(country, channel).inc()
            raise

    def _deliver(
        self,
        plan: Plan,
        message: Message,
        masked: str,
        handle: VerificationRef,
        root: VerificationRef,
        journal: Journal | None = None,
        suspect: bool = False,
    ) -> dict[str, Any]:
        """Run the plan and record its attempts on the verification: one round trip with the
        provider health, receipts index and counts dispatch queues, and the fraud guard's
        count of the send. Errors name the caller's handle."""
        batch = Batch(self.store.client)
        outcome = self.dispatcher.run(plan, message, batch, journal, suspect)
        if outcome.delivered and self.guard is not None:
            self.guard.sent(batch, message.to, message.country)
        failed = outcome.delivered is None
        self.store.record(batch, root, attempts.lines(outcome.attempts), failed=failed)
        batch.execute()
        if outcome.delivered is None:
            metrics.VERIFICATIONS.labels("failed").inc()
            error = _delivery_failed(handle, outcome)
            if self.webhooks.wants("delivery.failed"):
                data = status.event_data(
                    root.id, "failed", message.channel, masked, message.country, message.purpose
                )
                self.webhooks.emit("delivery.failed", {**data, **error.details})
            raise error
        return {
            "provider": outcome.delivered.provider,
            "own_numbers": outcome.delivered.own_numbers,
            "channel": outcome.delivered.channel,
            "attempts": len(outcome.attempts),
        }

    def verify(
        self, ref: VerificationRef, code: str, caller: Caller | None = None
    ) -> dict[str, Any]:
        """Check a code in one atomic step; approval returns a signed token."""
        masking.keep_out(code)
        checked = self.store.verify(ref, self.codes.digest(ref, code))
        metrics.VERIFY_OUTCOMES.labels(checked.outcome).inc()
        if checked.outcome == "approved":
            return self._approved(ref, checked, caller)
        if checked.outcome == "invalid_code":
            details = {"attempts_left": checked.attempts_left}
            raise ApiError("invalid_code", "The code is not correct.", details)
        if checked.outcome == "too_many_attempts":
            self._notify("verification.failed", ref)
            metrics.VERIFICATIONS.labels("failed").inc()
            raise ApiError("too_many_attempts", "Too many wrong codes; request a new one.")
        raise _not_found()

    def approve(self, verification_id: str) -> dict[str, Any]:
        """Approve a pending verification without a code, named by any of its handles: a
        trusted backend's own decision (a code it checked itself, another factor)."""
        ref = self.codes.parse_id(verification_id)
        checked = self.store.approve(ref) if ref else None
        if ref is None or checked is None or checked.outcome != "approved":
            raise _not_found()
        return self._approved(ref, checked, None)

    def _approved(
        self, ref: VerificationRef, checked: Checked, caller: Caller | None
    ) -> dict[str, Any]:
        """The answer to an approval, with its token; the business system is told."""
        root = ref.with_rand(checked.root)
        token = self.signer.sign(checked.to, checked.purpose, root.id)
        self._notify("verification.approved", root)
        metrics.VERIFICATIONS.labels("approved").inc()
        sent = attempts.last_sent(checked.attempts)
        if sent:
            metrics.APPROVALS.labels(sent["provider"], checked.country, sent["channel"]).inc()
        self._count_approval(checked, sent, caller)
        return {"id": ref.id if ref.rand else root.id, "status": "approved", "token": token}

    def _count_approval(
        self, checked: Checked, sent: dict[str, Any] | None, caller: Caller | None
    ) -> None:
        """The fraud guard's and the conversion strategy's counts of an approval, in the one
        batch after the check (an empty batch, when neither counts this country, sends
        nothing)."""
        batch = Batch(self.store.client)
        if self.guard is not None:
            self.guard.approved(batch, checked.to, checked.country, caller)
        conversion = self.dispatcher.conversion
        if sent and conversion is not None:
            conversion.approved(batch, sent["provider"], checked.country, sent["channel"])
        batch.execute()

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

    def status(self, verification_id: str, full: bool) -> dict[str, Any]:
        """What a handle's holder may see; `full` (trusted callers) adds attempts and route."""
        ref = self.codes.parse_id(verification_id)
        fields = self.store.load(ref) if ref else None
        if ref is None or fields is None:
            raise _not_found()
        state = status.state(fields, ref.rand, self.store.limits.max_attempts)
        if not full:
            return status.public(verification_id, state, fields)
        return status.describe(verification_id, state, fields, self._route_now(ref, fields))

    def _route_now(self, ref: VerificationRef, fields: dict[str, str]) -> dict[str, object]:
        """The plan a send of this verification would follow now, with every step's reason."""
        try:
            avoid = attempts.last_delivered(fields.get("at", ""))
            target = status.destination(fields)
            plan = self.router.plan(target.country, fields["c"], ref.seed, target.kind)
            plan = plan.avoiding(avoid)
        except ApiError as exc:
            return {"error": exc.code, **exc.details}
        return plan.explain()

    def last_provider(self, ref: VerificationRef) -> str | None:
        """The provider that last delivered a pending verification's code, if any."""
        fields = self.store.load(ref, any_rand=True)
        return attempts.last_delivered(fields.get("at", "")) if fields else None

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
        self.webhooks.emit(
            event, {**data, "provider": attempts.last_delivered(fields.get("at", ""))}
        )

    def record_receipt(self, verification_id: str, receipt: Receipt) -> str | None:
        """A provider's delivery report on the attempt it is about: the verification's country
        when the report is new, None when repeated or the verification is gone."""
        ref = self.codes.parse_id(verification_id)
        if ref is None:
            return None
        code = receipt.provider_code or ""
        return self.store.receipt(ref, receipt.message_id, receipt.status, code)

    def cancel(self, verification_id: str) -> dict[str, Any]:
        """End a pending verification, named by any of its handles (trusted callers)."""
        ref = self.codes.parse_id(verification_id)
        root = self.store.cancel(ref) if ref else None
        if ref is None or root is None:
            raise _not_found()
        metrics.VERIFICATIONS.labels("cancelled").inc()
        self.webhooks.cancel_expiry(ref.with_rand(root).id)
        return {"id": verification_id, "status": "cancelled"}


def _texting(req: CodeRequest) -> dict[str, str]:
    """The hash fields of what the request asks its texts to carry, only those it gives (short
    names keep pending verifications small)."""
    fields = {"ah": req.app_hash, "fn": req.friendly_name}
    return {name: value for name, value in fields.items() if value}


def _stored_request(fields: dict[str, str]) -> CodeRequest:
    """The request a stored verification was made with, as far as its sends need it."""
    return CodeRequest(
        None,
        None,
        None,
        fields["c"],
        fields["pu"],
        fields["lo"],
        app_hash=fields.get("ah"),
        friendly_name=fields.get("fn"),
    )


def _refuse(sent: Sent) -> None:
    """The answer to a send the store refused; none of them names the verification."""
    if sent.outcome in _REFUSALS:
        message, reason = _REFUSALS[sent.outcome]
        raise ApiError("rate_limited", message, {"reason": reason}, retry_after=sent.wait)
    if sent.outcome == "not_found":
        raise _not_found()


_REFUSALS = {
    "cooldown": ("Wait before asking for the code again.", "resend_cooldown"),
    "max_sends": ("This verification has been sent too many times.", "max_sends"),
    "limited": ("Too many codes sent to this destination; try later.", "destination_quota"),
}


def _pending(
    handle_id: str,
    channel: str,
    masked: str,
    expires_in: int,
    sent: Sent,
    route: dict[str, Any],
    locale: str,
) -> dict[str, Any]:
    """The answer to a code sent (or queued) for the holder of `handle_id`; `locale` is the
    one the message text is written in."""
    return {
        "id": handle_id,
        "status": "pending",
        "channel": channel,
        "to": masked,
        "expires_in": expires_in,
        "resend_after": sent.wait,
        "route": route,
        "locale": locale,
    }


def _delivery_failed(ref: VerificationRef, outcome: Outcome) -> ApiError:
    permanent = outcome.failure == "permanent"
    error = ApiError(
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
    throttled = outcome.failure == "recipient_throttled"
    return _recipient_limited(error, outcome.retry_after) if throttled else error


def _recipient_limited(failed: ApiError, retry_after: int | None) -> ApiError:
    """A provider refused the recipient for now (too many messages to it): wait and retry."""
    details = {**failed.details, "reason": "provider_recipient_limit"}
    message = "The provider refuses more codes to this destination for now; try later."
    return ApiError("rate_limited", message, details, retry_after=retry_after)
