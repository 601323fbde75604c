"""The verification endpoints: thin views over the verification service.

Public callers may ask for a code, check it by id, look at and resend a verification they
hold; trusted callers (an API key) may also check by destination, see the delivery attempts
and the route, and cancel.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from app.errors import ApiError
from app.guard import Caller
from app.verification.service import CodeRequest, VerificationService

from . import auth, body, idempotency
from .schemas import CodeRequestSchema, VerifySchema

bp = Blueprint("otp", __name__, url_prefix="/otp")
_request_schema = CodeRequestSchema()
_verify_schema = VerifySchema()


@bp.before_request
def _caller() -> None:
    """A wrong API key is refused on every endpoint, whether or not it needs one."""
    auth.is_trusted()


def _service() -> VerificationService:
    service: VerificationService = current_app.extensions["otp"].service
    return service


def _code_request(data: dict[str, str]) -> CodeRequest:
    return CodeRequest(
        phone=data.get("phone"),
        country=data.get("country"),
        email=data.get("email"),
        wechat_openid=data.get("wechat_openid"),
        channel=data.get("channel", "sms"),
        purpose=data.get("purpose", "login"),
        locale=data.get("locale", "en"),
        app_hash=data.get("app_hash"),
        caller=_asker(data.get("captcha_token")),
    )


def _asker(captcha_token: str | None = None) -> Caller:
    """The fraud guard's view of the caller: a public one's address and bot-check token."""
    if auth.is_trusted():
        return Caller(captcha_token=captcha_token, trusted=True)
    return Caller(request.remote_addr, captcha_token)


def _answer(result: dict[str, Any], status: int = 200) -> Response:
    """The JSON answer; the verification's id also goes into the request's log line."""
    g.verification_id = result.get("id")
    response = jsonify(result)
    response.status_code = status
    return response


@bp.post("/request")
def request_code() -> Response:
    service = _service()
    req = _code_request(body.load(_request_schema))
    target = service.target(req)
    scope = service.codes.ref_for(target.to, req.purpose)
    return idempotency.answer(scope, lambda: _answer(service.request(req, target), 202))


@bp.post("/verify")
def verify_code() -> Response:
    data = body.load(_verify_schema)
    service = _service()
    if "id" in data:
        ref = service.ref_for_verify(data["id"], None)
    else:
        # A public caller knowing only a destination must not spend its tries.
        auth.require_trusted()
        ref = service.ref_for_verify(None, _code_request({**data, "channel": _channel_of(data)}))
    return idempotency.answer(ref, lambda: _answer(service.verify(ref, data["code"], _asker())))


def _channel_of(data: dict[str, str]) -> str:
    if "wechat_openid" in data:
        return "wechat"
    return "email" if "email" in data and "phone" not in data else "sms"


@bp.get("/<verification_id>")
def show(verification_id: str) -> Response:
    return _answer(_service().status(verification_id, full=auth.is_trusted()))


@bp.post("/<verification_id>/resend")
def resend(verification_id: str) -> Response:
    return _answer(_service().resend(verification_id, _asker()), 202)


@bp.post("/<verification_id>/cancel")
def cancel(verification_id: str) -> Response:
    auth.require_trusted()
    return _answer(_service().cancel(verification_id))


@bp.delete("/guard/blocks/<scope>/<path:value>")
def unblock(scope: str, value: str) -> Response:
    """Lift a fraud-guard block before its end (trusted callers)."""
    auth.require_trusted()
    guard = current_app.extensions["otp"].guard
    if guard is None:
        raise ApiError("not_found", "The fraud guard is off.")
    return _answer(guard.unblock(scope, value, "api"))
