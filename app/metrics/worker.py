"""Send metrics of the delivery worker (`flask otp worker`).

RQ forks a work-horse process per job, and the sends are counted there, so the horses write
their samples to files in PROMETHEUS_MULTIPROC_DIR. When the worker shares that directory
with gunicorn, the web app's /metrics adds them up; when it runs elsewhere it serves them
itself on OTP_WORKER_METRICS_PORT (and then wants a directory of its own).

prometheus_client names a process's files by its pid, which would leave files behind for
every job, all read again by every scrape. Here all horses of one worker share one set of
files (a worker runs one horse at a time) and the worker process has another: a worker
leaves a fixed number of files however many jobs it runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from prometheus_client import start_http_server, values
from prometheus_client.multiprocess import mark_process_dead

from .exposition import counted

log = logging.getLogger(__name__)


def start(port: int | None) -> None:
    """Count this worker's samples into the multiprocess directory; serve them on `port`."""
    path = _directory(port)
    if path is None:
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    worker = os.getpid()
    # Every metric family is labelled, so no sample exists yet that the old class would keep.
    values.ValueClass = values.MultiProcessValue(lambda: _identifier(worker))  # type: ignore[no-untyped-call]
    if port:
        start_http_server(port, registry=counted())


def _directory(port: int | None) -> str | None:
    """The multiprocess directory: without one the sends go uncounted, and a port is wrong."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    if path is None and port:
        raise click.ClickException(
            "OTP_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR: the work-horses that "
            "send write their samples there"
        )
    if path is None:
        log.warning("PROMETHEUS_MULTIPROC_DIR is not set: this worker's sends are not counted")
    return path


def stop() -> None:
    """Mark the worker and its horses dead: prometheus_client then drops their live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        for role in ("worker", "horse"):
            mark_process_dead(f"{os.getpid()}-{role}")  # type: ignore[no-untyped-call]


def _identifier(worker: int) -> str:
    # Distinct for processes running at once (the contract of MultiProcessValue): the worker
    # and its one horse. Each new horse sees an identifier other than the one it inherited, so
    # prometheus_client re-reads the values from the files the earlier horses left.
    return f"{worker}-worker" if os.getpid() == worker else f"{worker}-horse"
