"""Delivery receipts pushed by providers: POST /otp/callbacks/<provider name>."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from app.delivery.providers.base import CallbackRequest

bp = Blueprint("callbacks", __name__, url_prefix="/otp/callbacks")


@bp.post("/<provider>")
def receipt(provider: str) -> Response:
    """Check the report's signature (403 when it fails) and apply it; unknown ids are ignored.
    The answer has the shape the provider's documentation asks for, or it pushes again."""
    body = request.get_data()  # read first: the form is then parsed from the cached body
    callback = CallbackRequest(
        url=request.url, headers=dict(request.headers), form=request.form.to_dict(), body=body
    )
    services = current_app.extensions["otp"]
    answer = services.receipts.accept(provider, callback, services.service.record_receipt)
    return Response(answer.body, status=answer.status, content_type=answer.content_type)
