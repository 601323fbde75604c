"""Twilio Verify's verification lifecycle, carried out by this service's own.

Each Twilio Verify service SID stands for a purpose (OTP_TWILIO_SERVICES). The Twilio caller
is one trusted backend, so it works on the verification's first handle (its root): a check
spends the root's tries, as a trusted check by destination does on the native API. Beside
the verification lives a short record of what the Twilio resource shows and the store does
not keep: when each send was asked for and when the status last changed.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from app import keys
from app.delivery import phone
from app.errors import ApiError
from app.verification import status
from app.verification.codes import VerificationRef
from app.verification.service import CodeRequest, VerificationService

from . import twilio_shapes as shapes
from .twilio_sids import VERIFICATION_SID, Sids


class TwilioVerify:
    def __init__(
        self, service: VerificationService, account_sid: str, services: dict[str, str]
    ) -> None:
        self.service = service
        self.account_sid = account_sid
        self.services = services  # service SID -> purpose
        self.sids = Sids(service.codes)

    def create(
        self,
        service_sid: str,
        to: str,
        channel: str,
        locale: str,
        app_hash: str | None = None,
        friendly_name: str | None = None,
    ) -> shapes.Shown:
        """Send a code: a new verification, or the pending one's code again (same SID).
        `friendly_name` stands for {app} in its texts; `app_hash` ends its SMS texts."""
        purpose = self._purpose(service_sid)
        req = replace(
            _code_request(to, channel, purpose, locale),
            app_hash=app_hash,
            friendly_name=friendly_name,
        )
        target = self.service.target(req)
        slot = self.service.codes.ref_for(target.to, purpose)
        pending = self.service.store.load(slot, any_rand=True)
        if pending is not None and self._state(pending) == "too_many_attempts":
            raise _max_checks()
        sent = self.service.request(req, target)
        handle = self.service.codes.parse_id(sent["id"])
        fields = self.service.store.load(handle) if handle else None
        if handle is None or fields is None:
            raise shapes.not_found()
        root = handle.with_rand(fields["r"])
        events = self._note(root, f"s|{time.time()}|{channel}")
        return self._shown(service_sid, root, events, fields)

    def check(self, service_sid: str, key: str, code: str) -> tuple[shapes.Shown, str | None]:
        """Check a code against the verification a SID or destination names: a wrong code
        leaves it pending, the try that spends the last one ends it."""
        root, fields = self.find(service_sid, key)
        state = self._state(fields)
        if state == "too_many_attempts":
            raise _max_checks()
        if state != "pending":
            raise shapes.not_found()
        outcome = "approved"
        try:
            self.service.verify(root, code)
        except ApiError as exc:
            if exc.code not in {"invalid_code", "too_many_attempts"}:
                raise
            outcome = exc.code
        ended = outcome != "invalid_code"  # approved, or its last try spent
        events = self._note(root, f"u|{time.time()}") if ended else self._events(root)
        shown = self._shown(service_sid, root, events)
        if outcome != "approved":
            return shown, None
        # The service's own token names the internal id; this one names the SID instead.
        return shown, self.service.signer.sign(shown.to, fields["pu"], shown.sid)

    def fetch(self, service_sid: str, key: str) -> shapes.Shown:
        root, fields = self.find(service_sid, key)
        return self._shown(service_sid, root, self._events(root), fields)

    def update(self, service_sid: str, key: str, new_status: str) -> shapes.Shown:
        """End a pending verification: canceled, or approved by the backend's own decision."""
        root, _ = self.find(service_sid, key)
        if new_status == "canceled":
            self.service.cancel(root.id)
        else:
            self.service.approve(root.id)
        return self._shown(service_sid, root, self._note(root, f"u|{time.time()}"))

    def find(self, service_sid: str, key: str) -> tuple[VerificationRef, dict[str, str]]:
        """The verification a `VE` SID, or a phone number or e-mail address, names under a
        service: its first handle and its fields."""
        purpose = self._purpose(service_sid)
        if VERIFICATION_SID.fullmatch(key):
            found = self.sids.slot(key)
            if found is None:
                raise shapes.not_found()
            slot, first = found
        else:
            slot, first = self.service.codes.ref_for(self._destination(key), purpose), ""
        fields = self.service.store.load(slot, any_rand=True)
        if fields is None or fields["pu"] != purpose or not fields["r"].startswith(first):
            raise shapes.not_found()
        return slot.with_rand(fields["r"]), fields

    def _purpose(self, service_sid: str) -> str:
        purpose = self.services.get(service_sid)
        if purpose is None:
            raise shapes.not_found(f"The Verify service {service_sid} was not found.")
        return purpose

    def _destination(self, to: str) -> str:
        """A phone number in E.164 or an e-mail address, as the store files it; anything
        else names no verification."""
        # Voice, which any reachable number takes: this only reads the destination.
        req = _code_request(to, "email" if "@" in to else "voice", "", "")
        try:
            return self.service.target(req).to
        except ApiError as exc:
            raise shapes.not_found() from exc

    def _state(self, fields: dict[str, str]) -> str:
        """Where the verification stands for its first handle, whose tries the checks spend."""
        return status.state(fields, fields["r"], self.service.store.limits.max_attempts)

    def _shown(
        self,
        service_sid: str,
        root: VerificationRef,
        events: list[str],
        fields: dict[str, str] | None = None,
    ) -> shapes.Shown:
        """The resource's view of a verification, from its fields (read now unless given)
        and its Twilio record."""
        fields = fields or self.service.store.load(root)
        if fields is None:
            raise shapes.not_found()
        limits = self.service.store.limits
        created = time.time() - (limits.ttl - int(fields["ttl"]))
        sends = [event.split("|") for event in events if event.startswith("s|")]
        updated = max([created, *(float(event.split("|")[1]) for event in events)])
        return shapes.Shown(
            sid=self.sids.verification(root),
            service_sid=service_sid,
            account_sid=self.account_sid,
            to=fields["to"],
            channel=fields["c"],
            status=self._state(fields),
            created=created,
            updated=updated,
            sends=[
                shapes.send_attempt(self.sids.attempt(root, n), channel, float(moment))
                for n, (_, moment, channel) in enumerate(sends, 1)
            ],
            line_type=_line_type(fields["to"]),
            email="@" in fields["to"],
        )

    def _note(self, root: VerificationRef, event: str) -> list[str]:
        """Add an event to the verification's record; every event so far."""
        pipe = self.service.store.client.pipeline(transaction=True)
        pipe.rpush(_record_key(root), event)
        pipe.expire(_record_key(root), self.service.store.limits.ttl)
        pipe.lrange(_record_key(root), 0, -1)
        return [_text(event) for event in pipe.execute()[-1]]

    def _events(self, root: VerificationRef) -> list[str]:
        events = self.service.store.client.lrange(_record_key(root), 0, -1)
        return [_text(event) for event in events]


def _code_request(to: str, channel: str, purpose: str, locale: str) -> CodeRequest:
    """The service's request for a Twilio `To`: an e-mail address for the email channel,
    else a phone number in E.164."""
    email = channel == "email"
    return CodeRequest(None if email else to, None, to if email else None, channel, purpose, locale)


def _record_key(root: VerificationRef) -> str:
    """The Twilio record of one verification: its hash tag, named by its first handle, so a
    later verification of the same destination starts a record of its own."""
    return keys.key(root.tag, "tw", root.slot + root.rand)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _line_type(to: str) -> str | None:
    return shapes.LINE_TYPES.get(phone.kind_of(to) or "")


def _max_checks() -> shapes.TwilioError:
    return shapes.TwilioError(60202, 429, "Max check attempts reached.")
