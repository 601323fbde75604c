"""The service objects one app instance holds, built once from its settings."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import factors, keys, preflight, routing_file, storage
from app import settings as settings_module
from app.api.auth import key_digests
from app.api.idempotency import Records
from app.delivery.autofill import Domains
from app.delivery.config import RoutingConfig
from app.delivery.conversion import Conversion
from app.delivery.dispatch import Dispatcher
from app.delivery.health import Health
from app.delivery.providers.base import Provider, ProviderContext
from app.delivery.providers.console import Outbox
from app.delivery.receipts import Receipts
from app.delivery.routing import Router
from app.delivery.templates import Templates
from app.factors.service import FactorService
from app.guard import Guard
from app.verification import jobs
from app.verification.codes import Codes
from app.verification.service import VerificationService
from app.verification.store import Limits, Store
from app.verification.tokens import TokenSigner, generate_pem
from app.webhooks import Webhooks

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: settings_module.Settings
    redis_url: str
    redis: Any
    routing: RoutingConfig
    providers: dict[str, Provider]
    health: Health
    store: Store
    router: Router
    signer: TokenSigner
    service: VerificationService
    outbox: Outbox | None
    receipts: Receipts
    webhooks: Webhooks
    api_keys: tuple[bytes, ...]  # digests of the trusted callers' keys
    idempotency: Records
    factors: FactorService | None = None  # with TOTP on
    guard: Guard | None = None  # with the fraud guard or its bot check on
    conversion: Conversion | None = None  # with a country on `strategy: conversion`


def development_secrets(data_dir: Path) -> dict[str, str]:
    """A server secret and signing key made once per data directory and shared by workers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "dev-secrets.json"
    if not path.exists():
        # Written whole to a private file, then linked into place: workers starting together
        # never read a half-written file, and the first link wins.
        draft = data_dir / f".dev-secrets.{os.getpid()}.{secrets.token_hex(4)}"
        made = {"secret": secrets.token_urlsafe(32), "signing_key": generate_pem()}
        draft.write_text(json.dumps(made))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


def _queue_url(settings: settings_module.Settings, redis_url: str) -> str:
    """Where RQ keeps the delivery queue: OTP_QUEUE_REDIS_URL, else the service's own Redis.

    RQ does not support Redis Cluster (its commands span keys of many slots), so a Cluster
    needs a separate standalone or Sentinel Redis for the queue."""
    url = settings.queue_redis_url or redis_url
    if storage.is_cluster(url):
        raise settings_module.SettingsError(
            [
                "OTP_DELIVERY=queue: RQ does not support Redis Cluster; set OTP_QUEUE_REDIS_URL"
                " to a standalone or Sentinel Redis for the queue"
            ]
        )
    return url


def build(settings: settings_module.Settings) -> Services:
    secret, signing_key = settings.secret, settings.signing_key
    if settings.development and not (secret and signing_key):
        made = development_secrets(settings.data_dir)
        secret, signing_key = secret or made["secret"], signing_key or made["signing_key"]
    # settings.load refuses production without them
    assert secret
    assert signing_key
    keys.use(settings.key_prefix)  # before anything names a key
    redis_url = settings.redis_url or storage.embedded_url(settings.data_dir, settings.totp)
    queue_url = _queue_url(settings, redis_url) if settings.delivery == "queue" else None
    client = storage.connect(redis_url)
    outbox = Outbox(client) if settings.development else None
    context = ProviderContext(settings.send_timeout, client, outbox)
    loaded = routing_file.load(settings.routing_file, context)
    routing, providers = loaded.routing, loaded.providers
    quotas = {name: spec.quota_per_minute for name, spec in routing.providers.items()}
    health = Health(client, routing.breaker, quotas, settings.health_cache_seconds)
    limits = Limits(
        ttl=settings.ttl,
        resend_cooldown=settings.resend_cooldown,
        max_sends=settings.max_sends,
        max_attempts=settings.max_attempts,
        phone_hourly=settings.limit_phone_hourly,
        phone_daily=settings.limit_phone_daily,
    )
    store = Store(client, limits)
    conversion = Conversion(client, routing) if _converts(routing) else None
    router = Router(routing, health.snapshot, conversion.counts if conversion else None)
    domains = Domains(settings.webotp_domain, routing.webotp)
    templates = Templates(settings.issuer, routing.templates, domains)
    for problem in templates.too_long(settings.code_length):
        log.warning("message text over 2 SMS segments (each is billed): %s", problem)
    receipts = Receipts(client, health, providers, settings.ttl)
    dispatcher = Dispatcher(
        providers, health, receipts, templates, settings.plan_budget, conversion
    )
    signer = preflight.signer(signing_key, settings)
    codes = Codes(secret, settings.code_length, settings.test_numbers)
    webhooks = Webhooks(client, loaded.webhooks)
    queue = None
    if queue_url is not None:
        queue = jobs.queue(client if queue_url == redis_url else storage.connect(queue_url))
    guarded = loaded.guard.enabled or loaded.guard.bot_check is not None
    guard = Guard(client, loaded.guard, webhooks) if guarded else None
    service = VerificationService(store, codes, router, dispatcher, signer, webhooks, queue, guard)
    return Services(
        settings,
        redis_url,
        client,
        routing,
        providers,
        health,
        store,
        router,
        signer,
        service,
        outbox,
        receipts,
        webhooks,
        key_digests(settings.api_keys),
        Records(client, settings.ttl, int(settings.plan_budget + settings.send_timeout) + 5),
        factors.build(settings, client, signer, secret),
        guard,
        conversion,
    )


def _converts(routing: RoutingConfig) -> bool:
    """Whether any country orders its resources by conversion."""
    return any(entry.strategy == "conversion" for entry in routing.scheduling.values())
