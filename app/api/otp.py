"""The verification endpoints: thin views over the verification service."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify

from app.verification.service import CodeRequest, VerificationService

from . import body
from .schemas import CodeRequestSchema, VerifySchema

bp = Blueprint("otp", __name__, url_prefix="/otp")
_request_schema = CodeRequestSchema()
_verify_schema = VerifySchema()


def _service() -> VerificationService:
    service: VerificationService = current_app.extensions["otp"].service
    return service


def _code_request(data: dict[str, str]) -> CodeRequest:
    return CodeRequest(
        phone=data.get("phone"),
        country=data.get("country"),
        email=data.get("email"),
        channel=data.get("channel", "sms"),
        purpose=data.get("purpose", "login"),
        locale=data.get("locale", "en"),
    )


def _answer(result: dict[str, Any]) -> Response:
    """The JSON answer; the verification's id also goes into the request's log line."""
    g.verification_id = result.get("id")
    return jsonify(result)


@bp.post("/request")
def request_code() -> tuple[Response, int]:
    data = body.load(_request_schema)
    return _answer(_service().request(_code_request(data))), 202


@bp.post("/verify")
def verify_code() -> Response:
    data = body.load(_verify_schema)
    service = _service()
    target = None if "id" in data else _code_request({**data, "channel": _channel_of(data)})
    ref = service.ref_for_verify(data.get("id"), target)
    return _answer(service.verify(ref, data["code"]))


def _channel_of(data: dict[str, str]) -> str:
    return "email" if "email" in data and "phone" not in data else "sms"


@bp.get("/<verification_id>")
def show(verification_id: str) -> Response:
    return _answer(_service().status(verification_id))


@bp.post("/<verification_id>/cancel")
def cancel(verification_id: str) -> Response:
    return _answer(_service().cancel(verification_id))
