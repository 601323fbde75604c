"""The delivery job RQ runs (app/verification/jobs.py queues it by this name).

`flask otp worker` runs jobs inside the app's context, so a job uses that app's services; a
plain `rq worker otp-delivery` has no app, and each job builds one from the environment.
"""

from __future__ import annotations

from flask import current_app, has_app_context

from app import masking


def deliver(verification_id: str, send: int) -> str:
    """The job: send the code of one send of a verification, if it is still pending."""
    masking.begin()
    if has_app_context():
        return _deliver(current_app.extensions["otp"], verification_id, send)
    from app import create_app

    with create_app().app_context():
        return _deliver(current_app.extensions["otp"], verification_id, send)


def _deliver(services: object, verification_id: str, send: int) -> str:
    outcome: str = services.service.deliver_queued(verification_id, send)  # type: ignore[attr-defined]
    return outcome
