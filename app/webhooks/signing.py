"""The signature scheme: HMAC-SHA256 over "<unix timestamp>.<raw body>", one per live secret."""

from __future__ import annotations

import hashlib
import hmac

from .config import Endpoint

SCHEME = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex>` for one secret."""
    signed = str(timestamp).encode() + b"." + body
    return f"{SCHEME}={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def headers(
    endpoint: Endpoint, event_id: str, event: str, body: bytes, now: float
) -> dict[str, str]:
    """The headers of one POST; during a rotation overlap both signatures, the new one first."""
    timestamp = int(now)
    signatures = [signature(secret, timestamp, body) for secret in endpoint.secrets_at(now)]
    return {
        "Content-Type": "application/json",
        "User-Agent": "otp-service-webhooks/1",
        "X-OTP-Webhook-Id": event_id,
        "X-OTP-Webhook-Event": event,
        "X-OTP-Webhook-Timestamp": str(timestamp),
        "X-OTP-Webhook-Signature": ",".join(signatures),
    }
