"""Delivery receipts: a provider's report updates the attempt it is about and feeds health."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from app import keys
from app.batch import Batch
from app.errors import ApiError

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
    return keys.key(f"{provider}:{message_id}", "msg")


# Records a report on the verification a message belongs to: the verification's country when
# the report is new, None when it is repeated or the verification is gone. The service layer
# provides it (VerificationService.record_receipt).
Recorder = Callable[[str, Receipt], str | None]


class Receipts:
    def __init__(
        self, client: Any, health: Health, providers: dict[str, Provider], ttl: int
    ) -> None:
        self.client = client
        self.health = health
        self.providers = providers
        self.ttl = ttl  # of the message id index: the verification's lifetime

    def remember(self, batch: Batch, provider: str, message_id: str, verification_id: str) -> None:
        """Queue the message id -> verification index, for providers that report back."""
        if isinstance(self.providers[provider], ReceiptParser):
            batch.pipe.set(index_key(provider, message_id), verification_id, ex=self.ttl)

    def accept(
        self, provider_name: str, request: CallbackRequest, record: Recorder
    ) -> CallbackAnswer:
        """Check one callback request and hand each report to `record`; the answer is in the
        form the provider expects, told how many reports were new."""
        provider = self.providers.get(provider_name)
        if not isinstance(provider, ReceiptParser):
            raise ApiError("not_found", f"No provider {provider_name!r} takes delivery receipts.")
        try:
            receipts = provider.parse_receipts(request)
        except ReceiptRejected as exc:
            log.warning("receipt refused", extra={"provider": provider_name, "reason": str(exc)})
            raise ApiError("forbidden", "The receipt's signature does not check out.") from exc
        accepted = sum(self._apply(provider_name, receipt, record) for receipt in receipts)
        if isinstance(provider, CallbackAnswerer):
            return provider.callback_answer(accepted)
        return CallbackAnswer(json.dumps({"accepted": accepted}))

    def _apply(self, provider: str, receipt: Receipt, record: Recorder) -> bool:
        verification_id = self.client.get(index_key(provider, receipt.message_id))
        if verification_id is None:
            return False  # unknown or expired: accepted and ignored, or the provider retries
        country = record(verification_id.decode(), receipt)
        if country is None:
            return False  # a repeated report, or the verification is gone: harmless
        # A report of a refused or throttled recipient says nothing bad about the provider.
        if receipt.status != "delivered" and receipt.failure not in RECIPIENT_FAILURES:
            self.health.record_now(provider, country, ROUTE_FAILURE)
        return True
