"""The TOTP factor lifecycle: enrol, confirm, verify, list, delete, and re-key at rest.

Codes are computed and compared by pyotp. Python finds which time step of the skew window a
code matches; the check script accepts that step only if it is later than the last accepted
one, so a code is good once, and no earlier code is good after it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pyotp

from app.batch import Batch
from app.errors import ApiError
from app.verification.tokens import TokenSigner

from . import qr
from .crypto import Keyring, SealError, key_id_of
from .store import Checked, Factor, FactorRef, FactorStore

log = logging.getLogger(__name__)

DIGITS = 6  # what every authenticator app shows; some ignore any other length


@dataclass(frozen=True)
class Policy:
    """The settings a factor is enrolled and checked under."""

    issuer: str
    period: int = 30
    skew: int = 1
    max_attempts: int = 5
    lock_seconds: int = 300
    enrol_ttl: int = 600
    max_factors: int = 5


@dataclass
class Rotation:
    """What re-sealing every factor under the first key did."""

    resealed: int = 0
    current: int = 0  # already under the first key
    changed: int = 0  # deleted or re-sealed by someone else meanwhile
    unreadable: Counter[str] = field(default_factory=Counter)  # by key id


def matched_step(secret: str, period: int, code: str, now: float, skew: int) -> int | None:
    """The time step within ±`skew` steps of `now` whose code is `code`, checked by pyotp;
    the latest one if two steps share the code, None if none matches."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=period)
    for offset in range(skew, -skew - 1, -1):
        moment = datetime.fromtimestamp(now + offset * period, tz=UTC)
        if totp.verify(code, for_time=moment):
            return totp.timecode(moment)
    return None


def _view(factor: Factor) -> dict[str, Any]:
    """What anyone may see of a factor: never its secret."""
    return {
        "id": factor.ref.id,
        "entity": factor.entity,
        "status": factor.status,
        "created": factor.created,
        "last_used": factor.last_used,
        "expires_in": factor.expires_in,
    }


def _not_found() -> ApiError:
    return ApiError("not_found", "No such factor.")


class FactorService:
    def __init__(
        self,
        store: FactorStore,
        keyring: Keyring,
        signer: TokenSigner,
        policy: Policy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.signer = signer
        self.policy = policy
        self.clock = clock  # tests pass their own to move time

    def enrol(self, entity: str, label: str | None, issuer: str | None) -> dict[str, Any]:
        """A new unverified factor; the only answer that ever holds its secret."""
        policy, ref, now = self.policy, FactorRef.new(entity), int(self.clock())
        secret = pyotp.random_base32()
        sealed = self.keyring.seal(secret, ref.id, entity)
        held = self.store.enrol(
            ref, entity, sealed, policy.period, now, policy.enrol_ttl, policy.max_factors
        )
        if held is not None:
            raise _at_limit(held, policy.max_factors)
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=policy.period)
        uri = totp.provisioning_uri(name=label or entity, issuer_name=issuer or policy.issuer)
        log.info("totp factor %s enrolled, unverified", ref.id)
        view = {"id": ref.id, "entity": entity, "status": "unverified", "created": now}
        more = {"period": policy.period, "digits": DIGITS, "expires_in": policy.enrol_ttl}
        return {**view, **more, "secret": secret, "uri": uri, "qr_svg": qr.svg(uri)}

    def confirm(self, factor_id: str, code: str) -> dict[str, Any]:
        """Verify a factor with its first correct code (again later: check a code)."""
        factor = self._load(factor_id)
        now = self._check(factor, code, "confirm")
        log.info("totp factor %s verified", factor.ref.id)
        return _view(replace(factor, status="verified", last_used=now, expires_in=None))

    def verify(
        self, code: str, factor_id: str | None, entity: str | None, purpose: str
    ) -> dict[str, Any]:
        """Check a code for a verified factor (or an entity's only one): a signed token."""
        factor = self._load(factor_id) if factor_id else self._only_factor(entity or "")
        self._check(factor, code, "verify")
        token = self.signer.sign(factor.entity, purpose, factor.ref.id, factor="totp")
        return {"factor_id": factor.ref.id, "status": "approved", "token": token}

    def factors(self, entity: str) -> dict[str, Any]:
        """The entity's factors, oldest first, without secrets."""
        return {"entity": entity, "factors": [_view(f) for f in self.store.factors_of(entity)]}

    def delete(self, factor_id: str) -> dict[str, Any]:
        """Delete a factor: its codes are refused from now on."""
        ref = FactorRef.parse(factor_id)
        if ref is None or not self.store.delete(ref, int(self.clock())):
            raise _not_found()
        log.info("totp factor %s deleted", factor_id)
        return {"id": factor_id, "status": "deleted"}

    def _load(self, factor_id: str) -> Factor:
        ref = FactorRef.parse(factor_id)
        factor = self.store.load(ref) if ref else None
        if factor is None:
            raise _not_found()
        return factor

    def _only_factor(self, entity: str) -> Factor:
        verified = [f for f in self.store.factors_of(entity) if f.status == "verified"]
        if not verified:
            raise ApiError("not_found", "The entity has no verified factor.")
        if len(verified) > 1:
            problem = f"The entity has {len(verified)} verified factors: say which one."
            raise ApiError("validation_error", problem, {"fields": {"factor_id": [problem]}})
        return verified[0]

    def _check(self, factor: Factor, code: str, mode: str) -> int:
        """Accept `code` for `factor` (answers when) or raise the error that says why not."""
        policy, now = self.policy, self.clock()
        step = matched_step(self._secret(factor), factor.period, code, now, policy.skew)
        checked = self.store.check(
            factor.ref, mode, step, int(now), policy.max_attempts, policy.lock_seconds
        )
        if checked.outcome != "approved":
            raise _refusal(checked)
        return int(now)

    def _secret(self, factor: Factor) -> str:
        try:
            return self.keyring.open(factor.sealed, factor.ref.id, factor.entity)
        except SealError as exc:
            log.error("totp factor %s cannot be opened: %s", factor.ref.id, exc)
            raise ApiError(
                "factor_unreadable",
                "This factor's secret cannot be opened with the configured keys.",
                {"factor_id": factor.ref.id, "key_id": exc.key_id},
            ) from None

    def rotate(self, batch_size: int = 100) -> Rotation:
        """Re-seal every factor not under the first key; safe to run again at any time."""
        report = Rotation()
        for found in self.store.scan(batch_size):
            batch, queued = Batch(self.store.client), 0
            for ref, entity, sealed in found:
                queued += self._reseal(batch, ref, entity, sealed, report)
            replaced = sum(batch.execute()) if queued else 0
            report.resealed += replaced
            report.changed += queued - replaced
        return report

    def _reseal(
        self, batch: Batch, ref: FactorRef, entity: str, sealed: str, report: Rotation
    ) -> int:
        """Queue one factor's re-sealing on `batch`; 1 if queued."""
        if key_id_of(sealed) == self.keyring.primary:
            report.current += 1
            return 0
        try:
            secret = self.keyring.open(sealed, ref.id, entity)
        except SealError as exc:
            log.error("totp factor %s cannot be re-sealed: %s", ref.id, exc)
            report.unreadable[exc.key_id] += 1
            return 0
        self.store.reseal(batch, ref, sealed, self.keyring.seal(secret, ref.id, entity))
        return 1


def _at_limit(held: int, most: int) -> ApiError:
    return ApiError(
        "factor_limit",
        "The entity has as many factors as allowed; delete one first.",
        {"factors": held, "max_factors": most},
    )


def _refusal(checked: Checked) -> ApiError:
    """The error for a code `check` did not accept."""
    if checked.outcome == "invalid_code":
        return ApiError("invalid_code", "The code is not correct.", {"attempts_left": checked.left})
    if checked.outcome == "locked":
        return ApiError(
            "factor_locked",
            "Too many wrong codes; the factor is locked for a while.",
            {"retry_after": checked.left},
            retry_after=checked.left,
        )
    if checked.outcome == "replayed":
        return ApiError(
            "code_replayed",
            "This code, or a later one, was already used; wait for the next code.",
        )
    if checked.outcome == "unverified":
        return ApiError(
            "factor_unverified", "The factor is not verified yet: confirm it with a code first."
        )
    return _not_found()
