"""Checking the configuration without serving and without Redis: the settings, the signing
key and the routing file.

`flask otp check` prints the problems; gunicorn's master runs the same check once before it
forks any worker (gunicorn.conf.py), so a bad configuration is reported once, not per worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import redis
from cryptography.exceptions import UnsupportedAlgorithm

from app import routing_file
from app import settings as settings_module
from app.delivery.providers.base import ProviderContext
from app.routing_file import RoutingError, RoutingFile
from app.settings import Settings, SettingsError
from app.verification.tokens import TokenSigner


@dataclass(frozen=True)
class Report:
    problems: list[str]  # one line each
    summary: str = ""  # what was checked, when there is no problem


def check() -> Report:
    """Every problem of the environment's configuration, or a summary of what it sets up."""
    try:
        settings = settings_module.load()
    except SettingsError as exc:
        # The routing file is still checked, so that one run names every problem.
        variable = os.environ.get(settings_module.ENV_NAMES["routing_file"])
        path = Path(variable) if variable else None
        return Report(exc.problems + _routing(path)[1])
    problems = _key_problems(settings)
    loaded, routing_problems = _routing(settings.routing_file, settings.send_timeout)
    if loaded is None or problems:
        return Report(problems + routing_problems)
    return Report([], _summary(settings, loaded))


def signer(pem: str, settings: Settings) -> TokenSigner:
    """The token signer; a key that does not load is a SettingsError naming OTP_SIGNING_KEY."""
    try:
        return TokenSigner(pem, settings.issuer, settings.token_ttl)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        detail = str(exc).split(". ")[0]
        raise SettingsError(
            [f"OTP_SIGNING_KEY: must be an Ed25519 private key in PEM ({detail})"]
        ) from exc


def _key_problems(settings: Settings) -> list[str]:
    if settings.signing_key is None:  # development: made and kept under OTP_DATA_DIR
        return []
    try:
        signer(settings.signing_key, settings)
    except SettingsError as exc:
        return exc.problems
    return []


def _routing(
    path: Path | None, send_timeout: float = ProviderContext.send_timeout
) -> tuple[RoutingFile | None, list[str]]:
    # Adapters that share state through Redis (WeChat access tokens) keep the client when they
    # are built but send it nothing then; this one cannot connect, so nothing reaches a server.
    unconnected = redis.Redis(unix_socket_path=os.devnull)
    try:
        return routing_file.load(path, ProviderContext(send_timeout, unconnected)), []
    except RoutingError as exc:
        return None, exc.problems


def _summary(settings: Settings, loaded: RoutingFile) -> str:
    routing = loaded.routing
    scheduled = f"{len(routing.scheduling)} countries with scheduling"
    if not routing.scheduling_enabled:
        scheduled = "scheduling switched off"
    checked = "settings, signing key" if settings.signing_key else "settings"
    return (
        f"ok: {checked}, routing file {routing.source} (providers: {len(loaded.providers)}, "
        f"{scheduled}, webhooks: {len(loaded.webhooks)})"
    )
