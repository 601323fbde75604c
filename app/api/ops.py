"""Operations endpoints: liveness, readiness, the token keys."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from redis.exceptions import RedisError

from app.errors import ApiError
from app.metrics import exposition

from . import auth

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive; says nothing of its dependencies."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve: Redis answers and the routing file is loaded."""
    services = current_app.extensions["otp"]
    try:
        services.redis.ping()
    except RedisError as exc:
        raise ApiError(
            "unavailable", "Redis does not answer.", {"redis": str(exc)}, retry_after=5
        ) from exc
    return jsonify({"status": "ready", "routing": services.routing.source})


@bp.get("/metrics")
def prometheus() -> Response:
    """Prometheus text format, added up over every gunicorn worker. Trusted callers only:
    traffic per country and provider is the tenant's business, not the internet's."""
    auth.require_trusted()
    services = current_app.extensions["otp"]
    body = exposition.render(services.health, sorted(services.providers), services.service.queue)
    return Response(body, mimetype="text/plain; version=0.0.4")


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(current_app.extensions["otp"].signer.jwks())
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response
