"""Development-mode helpers: the outbox of messages the console provider sent."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox() -> Response:
    """The last messages sent, newest first; `?to=+E164` filters by destination."""
    messages = current_app.extensions["otp"].outbox.messages(request.args.get("to"))
    return jsonify({"messages": messages})
