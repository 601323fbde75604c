"""Reading a JSON request body, with a clear error for everything that is not one."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema

from app.errors import ApiError


def load(schema: Schema) -> dict[str, Any]:
    """The request's JSON object, validated by `schema`."""
    if not request.is_json:
        raise ApiError("unsupported_media_type", "Send the body as application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError("validation_error", "The body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError("validation_error", "The body must be a JSON object.")
    loaded: dict[str, Any] = schema.load(data)
    return loaded
