"""`flask otp ...` commands for operators."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.delivery import jobs
from app.delivery import phone as phones
from app.errors import ApiError
from app.factors.cli import totp
from app.metrics import worker as worker_metrics

otp = AppGroup("otp", help="Operate the OTP service.")
otp.add_command(totp)


@otp.command("route")
@click.argument("number")
@click.option("--channel", default="sms", show_default=True)
@click.option("--purpose", default="login", show_default=True)
@click.option("--resend", is_flag=True, help="Plan as a resend of the pending verification.")
def route(number: str, channel: str, purpose: str, resend: bool) -> None:
    """Print the route plan for NUMBER and the reason for each step, without sending."""
    services = current_app.extensions["otp"]
    try:
        destination = phones.parse(number)
        click.echo(
            f"destination: {phones.mask(destination.e164)} "
            f"({destination.country}, {destination.kind})"
        )
        phones.check_channel(destination, channel)
        ref = services.service.codes.ref_for(destination.e164, purpose)
        avoid = services.service.last_provider(ref) if resend else None
        kind = destination.kind
        plan = services.router.plan(destination.country, channel, ref.seed, kind).avoiding(avoid)
    except ApiError as exc:
        click.echo(f"refused: {exc.code}: {exc.message} {exc.details or ''}")
        raise SystemExit(1) from exc
    for line in describe(plan.explain(), avoid):
        click.echo(line)


def describe(explained: dict[str, object], avoided: str | None) -> list[str]:
    """The lines `flask otp route` prints for one plan."""
    scheduled = "on" if explained["scheduled"] else "off (own numbers route)"
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
    worker_metrics.start(metrics_port)
    jobs.bind(services)
    # One webhook sender in this process, not one per forked job.
    services.webhooks.autostart = False
    services.webhooks.start()
    try:
        Worker([jobs.QUEUE_NAME], connection=services.redis).work(burst=burst)
    finally:
        services.webhooks.stop()
        worker_metrics.stop()
