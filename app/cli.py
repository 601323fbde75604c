"""`flask otp ...` commands for operators."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from app import preflight
from app.delivery import phone as phones
from app.delivery.providers.base import CHANNELS
from app.errors import ApiError
from app.factors.cli import totp
from app.guard.cli import guard
from app.metrics import worker as worker_metrics
from app.routing_file import RoutingError, json_schema
from app.settings import SettingsError


class _Commands(AppGroup):
    """`flask otp`: a configuration that cannot run is listed line by line, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SettingsError, RoutingError) as exc:
            for line in exc.problems:
                click.echo(line, err=True)
            ctx.exit(1)


# Also registered as a `flask.commands` plugin (pyproject.toml), so that `--help` and the
# commands that need no app (check, schema) work before the app can be built.
otp = _Commands("otp", help="Operate the OTP service.")


@otp.command("check", with_appcontext=False)
def check() -> None:
    """Check the settings, the signing key and the routing file: no serving, no Redis."""
    report = preflight.check()
    for line in report.problems:
        click.echo(line)
    if report.problems:
        raise SystemExit(1)
    click.echo(report.summary)


@otp.command("schema", with_appcontext=False)
def schema() -> None:
    """Print the routing file's JSON Schema, for editors (see docs/routing-file.md)."""
    click.echo(json.dumps(json_schema.document(), indent=2))


otp.add_command(totp)
otp.add_command(guard)


@otp.command("route")
@click.argument("number")
@click.option("--channel", type=click.Choice(sorted(CHANNELS)), default="sms", show_default=True)
@click.option("--purpose", default="login", show_default=True)
@click.option("--resend", is_flag=True, help="Plan as a resend of the pending verification.")
def route(number: str, channel: str, purpose: str, resend: bool) -> None:
    """Print the route plan for NUMBER and the reason for each step, without sending."""
    services = current_app.extensions["otp"]
    try:
        destination = phones.parse(number)
        click.echo(f"destination: {destination.masked} ({destination.country}, {destination.kind})")
        phones.check_channel(destination, channel)
        ref = services.service.codes.ref_for(destination.to, purpose)
        avoid = services.service.last_provider(ref) if resend else None
        plan = services.router.plan(destination.country, channel, ref.seed, destination.kind)
        plan = plan.avoiding(avoid)
    except ApiError as exc:
        click.echo(f"refused: {exc.code}: {exc.message} {exc.details or ''}")
        raise SystemExit(1) from exc
    for line in describe(plan.explain(), avoid, services.routing.scheduling_enabled):
        click.echo(line)


def describe(explained: dict[str, object], avoided: str | None, enabled: bool) -> list[str]:
    """The lines `flask otp route` prints for one plan; `enabled`: scheduling's master switch."""
    scheduled = "on" if explained["scheduled"] else "off (own numbers route)"
    if not enabled:
        scheduled = "off by the master switch (scheduling.enabled: false): own numbers route"
    lines = [f"channel: {explained['channel']}", f"scheduling: {scheduled}", "plan:"]
    steps = explained["steps"]
    assert isinstance(steps, list)
    for number, step in enumerate(steps, 1):
        own = " [own numbers]" if step["own_numbers"] else ""
        cost = "" if step["cost"] is None else f", cost {step['cost']}"
        lines.append(
            f"  {number}. {step['provider']} ({step['channel']}){own}: {step['reason']}{cost}"
        )
    if avoided:
        lines.append(f"resend: {avoided} delivered last without approval, so it goes last")
    skipped = explained["skipped"]
    assert isinstance(skipped, list)
    if skipped:
        lines.append("skipped:")
        lines += [f"  - {s['provider']} ({s['channel']}): {s['reason']}" for s in skipped]
    return lines


@otp.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    envvar="OTP_WORKER_METRICS_PORT",
    show_envvar=True,
    help="Serve this worker's send metrics on /metrics at this port.",
)
def worker(burst: bool, metrics_port: int | None) -> None:
    """Run queued deliveries (OTP_DELIVERY=queue); SIGTERM finishes the job in hand first."""
    from rq import Worker

    services = current_app.extensions["otp"]
    queue = services.service.queue
    if queue is None:
        raise click.UsageError("the worker runs queued deliveries: set OTP_DELIVERY=queue")
    worker_metrics.start(metrics_port)
    # One webhook sender in this process, not one per forked job.
    services.webhooks.autostart = False
    services.webhooks.start()
    try:
        Worker([queue], connection=queue.connection).work(burst=burst)
    finally:
        services.webhooks.stop()
        worker_metrics.stop()
