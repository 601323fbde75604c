"""`flask otp guard`: the fraud guard's blocks in force, and lifting one."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import ApiError

from .config import SCOPES
from .guard import Guard, cause


@click.group("guard", cls=AppGroup, invoke_without_command=True)
@click.pass_context
def guard(ctx: click.Context) -> None:
    """The fraud guard's blocks in force, and what placed them (docs/fraud-guard.md)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_blocks)


def _guard() -> Guard:
    found: Guard | None = current_app.extensions["otp"].guard
    if found is None:
        raise click.ClickException("the fraud guard is off (fraud_guard.mode in the routing file)")
    return found


@guard.command("list")
def list_blocks() -> None:
    """Print every block in force: scope, value, mode, step, time left and its cause."""
    blocks = _guard().blocks()
    click.echo(f"blocks in force: {len(blocks) or 'none'}")
    now = int(time.time())
    for block in blocks:
        ends = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(block.until))
        click.echo(
            f"  {block.scope:<7} {block.value:<20} {block.mode:<7} step {block.step}, "
            f"until {ends} ({max(0, block.until - now)} s): {cause(block)}"
        )


@guard.command("unblock")
@click.argument("value")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    help="Default: prefix for +digits, country for two letters, else ip.",
)
def unblock(value: str, scope: str | None) -> None:
    """Lift the block of VALUE (a prefix like +4915212345, a country, or an address)."""
    scope = scope or _scope_of(value)
    try:
        lifted = _guard().unblock(scope, value, "cli")
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"unblocked {scope} {lifted['value']} ({lifted['cause']})")


def _scope_of(value: str) -> str:
    if value.startswith("+"):
        return "prefix"
    return "country" if len(value) == 2 and value.isalpha() else "ip"
