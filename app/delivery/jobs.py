"""Queued delivery (OTP_DELIVERY=queue): an RQ job that sends a verification's code.

A job carries only the verification id and the send number, never the code: the worker
re-derives the code and re-plans the route. Jobs are retried once when a worker dies
mid-job (at least once); a per-send marker in Redis makes sure one send goes out at most once.
"""

from __future__ import annotations

from typing import Any

from rq import Queue, Retry

QUEUE_NAME = "otp-delivery"
_services: Any = None


def queue(client: Any) -> Queue:
    return Queue(QUEUE_NAME, connection=client)


def enqueue(target: Queue, verification_id: str, send: int, ttl: int) -> None:
    """Queue one send; a job still waiting when the verification expires is dropped."""
    target.enqueue(
        deliver,
        verification_id,
        send,
        retry=Retry(max=1),
        ttl=ttl,
        failure_ttl=3600,
        result_ttl=600,
        job_id=f"otp-{verification_id}-{send}",
    )


def bind(services: Any) -> None:
    """Use an app's services for the jobs of this process (flask otp worker)."""
    global _services
    _services = services


def deliver(verification_id: str, send: int) -> str:
    """The job: send the code of one send of a verification, if it is still pending."""
    global _services
    if _services is None:  # run by a plain `rq worker`: build the app from the environment
        from app import create_app

        _services = create_app().extensions["otp"]
    outcome: str = _services.service.deliver_queued(verification_id, send)
    return outcome
