"""`flask otp totp ...`: re-key, back up and look after authenticator-app factors."""

from __future__ import annotations

import base64
import json
from typing import TextIO

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import ApiError

from .service import FactorService

totp = AppGroup("totp", help="Authenticator-app factors (docs/totp.md).")


def _factors() -> FactorService:
    factors: FactorService | None = current_app.extensions["otp"].factors
    if factors is None:
        raise click.ClickException("TOTP factors are off (OTP_TOTP)")
    return factors


@totp.command("rotate-key")
@click.option("--batch", default=100, show_default=True, help="Factors per SCAN batch.")
def rotate_key(batch: int) -> None:
    """Re-seal every factor under the first key of OTP_TOTP_KEYS; safe to run again."""
    factors = _factors()
    done = factors.rotate(batch)
    click.echo(
        f"re-sealed under {factors.keyring.primary}: {done.resealed}; already under it: "
        f"{done.current}; changed meanwhile: {done.changed}"
    )
    for key_id, count in sorted(done.unreadable.items()):
        click.echo(f"unreadable: {count} under key id {key_id!r}: restore that key and re-run")
    if done.unreadable:
        raise SystemExit(1)


@totp.command("list")
@click.argument("entity")
def list_factors(entity: str) -> None:
    """Print ENTITY's factors: id, status, created, last used (never a secret)."""
    for factor in _factors().factors(entity)["factors"]:
        click.echo(f"{factor['id']} {factor['status']} {factor['created']} {factor['last_used']}")


@totp.command("delete")
@click.argument("factor_id")
def delete_factor(factor_id: str) -> None:
    """Delete FACTOR_ID: its user must enrol again."""
    try:
        _factors().delete(factor_id)
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"deleted {factor_id}")


@totp.command("export")
@click.option("--batch", default=100, show_default=True, help="Keys per SCAN batch.")
def export(batch: int) -> None:
    """Write every factor key as a JSON line (Redis DUMP; secrets stay sealed) to stdout."""
    for key, ttl, dump in _factors().store.dumps(batch):
        line = {"key": key, "ttl_ms": ttl, "dump": base64.b64encode(dump).decode()}
        click.echo(json.dumps(line))


@totp.command("import")
@click.argument("source", type=click.File("r"), default="-")
def import_(source: TextIO) -> None:
    """Restore the keys of an export (a file, or stdin), replacing any of the same name."""
    store, restored = _factors().store, 0
    for line in filter(str.strip, source):
        record = json.loads(line)
        store.restore(record["key"], record["ttl_ms"], base64.b64decode(record["dump"]))
        restored += 1
    click.echo(f"restored {restored} keys")
