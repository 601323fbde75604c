"""Queued delivery (OTP_DELIVERY=queue): an RQ job per send of a verification's code.

A job carries only the verification id and the send number, never the code: the worker
re-derives the code and re-plans the route. Jobs are retried once when a worker dies
mid-job (at least once); a per-send marker in Redis makes sure one send goes out at most once.
The job's function (app/worker.py) is named, not imported: it needs the whole app, which this
layer does not know.
"""

from __future__ import annotations

from typing import Any

from rq import Queue, Retry

from app import keys

JOB = "app.worker.deliver"


def queue_name() -> str:
    """`otp-delivery` under the default key prefix."""
    return keys.queue("delivery")


def queue(client: Any) -> Queue:
    return Queue(queue_name(), connection=client)


def enqueue(target: Queue, verification_id: str, send: int, ttl: int) -> None:
    """Queue one send; a job still waiting when the verification expires is dropped."""
    target.enqueue(
        JOB,
        verification_id,
        send,
        retry=Retry(max=1),
        ttl=ttl,
        failure_ttl=3600,
        result_ttl=600,
        job_id=f"otp-{verification_id}-{send}",
    )
