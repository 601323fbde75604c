"""Authenticator-app (TOTP) factors: enrol, confirm, verify, list, delete, re-key.

A factor belongs to an opaque `entity` (the tenant's user id). Its secret is sealed with
AES-GCM under a key of `OTP_TOTP_KEYS` and lives in Redis for as long as the factor does, so
the Redis that holds factors must persist its data (docs/totp.md).
"""

from __future__ import annotations

import logging
from typing import Any

from app import storage
from app.settings import Settings
from app.verification.tokens import TokenSigner

from .crypto import Keyring
from .service import FactorService, Policy
from .store import FactorStore

log = logging.getLogger(__name__)


def build(
    settings: Settings, client: Any, signer: TokenSigner, server_secret: str
) -> FactorService | None:
    """The factor service of these settings, or None with TOTP off."""
    if not settings.totp:
        return None
    if storage.persists(client) is False:
        log.warning("TOTP factors are on, but this Redis persists nothing: see docs/totp.md")
    if settings.totp_keys:
        keyring = Keyring(settings.totp_keys)
    else:  # development mode: settings.load refuses this elsewhere
        keyring = Keyring.development(server_secret)
    policy = Policy(
        issuer=settings.totp_issuer or settings.issuer,
        period=settings.totp_period,
        skew=settings.totp_skew,
        max_attempts=settings.totp_max_attempts,
        lock_seconds=settings.totp_lock_seconds,
        enrol_ttl=settings.totp_enrol_ttl,
        max_factors=settings.totp_max_factors,
    )
    return FactorService(FactorStore(client), keyring, signer, policy)
