"""Reading a JSON request body, with a clear error for everything that is not one."""

from __future__ import annotations

from typing import Any

import orjson
from flask import g, request
from marshmallow import Schema

from app import jsonio
from app.errors import ApiError


def load(schema: Schema) -> dict[str, Any]:
    """The request's JSON object, validated by `schema`."""
    data = parse()
    if not isinstance(data, dict):
        raise ApiError("validation_error", "The body must be a JSON object.")
    loaded: dict[str, Any] = schema.load(data)
    return loaded


def parse() -> Any:
    """The request's JSON value. The body's size is bounded before it is read (413 whether or
    not it came with a Content-Length), and nesting past the parser's depth limit is a
    validation error, not a fault."""
    if not request.is_json:
        raise ApiError("unsupported_media_type", "Send the body as application/json.")
    raw = request.get_data(cache=True)  # 413 from werkzeug past MAX_CONTENT_LENGTH
    limit = request.max_content_length
    # A chunked body is cut at the limit without a word: one more byte means it was longer.
    chunked = request.content_length is None and limit and len(raw) >= limit
    if chunked and request.environ["wsgi.input"].read(1):
        raise ApiError("payload_too_large", f"The body is over {limit} bytes.")
    try:
        g.json_body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        nested = str(exc).startswith(jsonio.DEPTH_ERROR)
        problem = "is nested too deeply" if nested else "is not valid JSON"
        raise ApiError("validation_error", f"The body {problem}.") from None
    return g.json_body
