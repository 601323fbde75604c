"""The TOTP factor endpoints, for trusted callers only: the tenant's backend knows who the
user is and vouches for the `entity`; a browser or app never calls these directly."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import ValidationError

from app.errors import ApiError
from app.factors.service import FactorService

from . import auth, body
from .factor_schemas import ENTITY, ConfirmSchema, EnrolSchema, FactorVerifySchema

bp = Blueprint("factors", __name__, url_prefix="/totp")
_enrol_schema = EnrolSchema()
_confirm_schema = ConfirmSchema()
_verify_schema = FactorVerifySchema()


@bp.before_request
def _trusted_only() -> None:
    auth.require_trusted()


def _service() -> FactorService:
    service: FactorService = current_app.extensions["otp"].factors
    return service


def _answer(result: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(result)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"  # an enrolment answer holds the secret
    return response


@bp.post("/factors")
def enrol() -> Response:
    """Create an unverified factor for an entity; the answer holds its secret, once."""
    data = body.load(_enrol_schema)
    return _answer(_service().enrol(data["entity"], data.get("label"), data.get("issuer")), 201)


@bp.post("/factors/<factor_id>/confirm")
def confirm(factor_id: str) -> Response:
    """Verify a factor with a first correct code."""
    return _answer(_service().confirm(factor_id, body.load(_confirm_schema)["code"]))


@bp.post("/verify")
def verify() -> Response:
    """Check a code for a factor, or for an entity's only verified factor."""
    data = body.load(_verify_schema)
    service = _service()
    return _answer(
        service.verify(data["code"], data.get("factor_id"), data.get("entity"), data["purpose"])
    )


@bp.get("/entities/<entity>/factors")
def entity_factors(entity: str) -> Response:
    """An entity's factors, without secrets."""
    try:
        ENTITY(entity)
    except ValidationError as exc:
        fields = {"entity": exc.messages}
        raise ApiError(
            "validation_error", "The path holds no entity id.", {"fields": fields}
        ) from None
    return _answer(_service().factors(entity))


@bp.delete("/factors/<factor_id>")
def delete(factor_id: str) -> Response:
    """Delete a factor: its codes are refused from now on."""
    return _answer(_service().delete(factor_id))
