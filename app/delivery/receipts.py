"""Delivery receipts: a provider's report updates the attempt it is about and feeds health."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.batch import Batch
from app.errors import ApiError
from app.verification.codes import Codes
from app.verification.store import Store

from .health import ROUTE_FAILURE, Health
from .providers.base import (
    RECIPIENT_FAILURES,
    CallbackAnswer,
    CallbackAnswerer,
    CallbackRequest,
    Provider,
    Receipt,
    ReceiptParser,
    ReceiptRejected,
)

log = logging.getLogger(__name__)


def index_key(provider: str, message_id: str) -> str:
    """Which verification a provider's message id belongs to."""
    return f"otp:msg:{{{provider}:{message_id}}}"


class Receipts:
    def __init__(
        self, client: Any, store: Store, health: Health, providers: dict[str, Provider]
    ) -> None:
        self.client = client
        self.store = store
        self.health = health
        self.providers = providers

    def remember(self, batch: Batch, provider: str, message_id: str, verification_id: str) -> None:
        """Queue the message id -> verification index, for providers that report back."""
        if isinstance(self.providers[provider], ReceiptParser):
            batch.pipe.set(
                index_key(provider, message_id), verification_id, ex=self.store.limits.ttl
            )

    def accept(self, provider_name: str, request: CallbackRequest) -> CallbackAnswer:
        """Check and apply one callback request; the answer is in the form the provider
        expects, told how many reports were new."""
        provider = self.providers.get(provider_name)
        if not isinstance(provider, ReceiptParser):
            raise ApiError("not_found", f"No provider {provider_name!r} takes delivery receipts.")
        try:
            receipts = provider.parse_receipts(request)
        except ReceiptRejected as exc:
            log.warning("receipt refused", extra={"provider": provider_name, "reason": str(exc)})
            raise ApiError("forbidden", "The receipt's signature does not check out.") from exc
        accepted = sum(self._apply(provider_name, receipt) for receipt in receipts)
        if isinstance(provider, CallbackAnswerer):
            return provider.callback_answer(accepted)
        return CallbackAnswer(json.dumps({"accepted": accepted}))

    def _apply(self, provider: str, receipt: Receipt) -> bool:
        verification_id = self.client.get(index_key(provider, receipt.message_id))
        ref = Codes.parse_id(verification_id.decode()) if verification_id else None
        if ref is None:
            return False  # unknown or expired: accepted and ignored, or the provider retries
        code = receipt.provider_code or ""
        reply = self.store.receipt(ref, receipt.message_id, receipt.status, code)
        if reply[0] != "new":
            return False  # a repeated report, or the verification is gone: harmless
        # A report of a refused or throttled recipient says nothing bad about the provider.
        if receipt.status != "delivered" and receipt.failure not in RECIPIENT_FAILURES:
            self.health.record_now(provider, reply[1], ROUTE_FAILURE)
        return True
