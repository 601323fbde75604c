"""Development-mode demo: a login page that drives the whole verification flow in a browser."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, render_template

bp = Blueprint("demo", __name__, template_folder="templates")


@bp.get("/demo")
def demo() -> Response:
    """The demo login page; its inline script and style run only under this request's nonce."""
    nonce = secrets.token_urlsafe(16)
    response = Response(render_template("demo.html", nonce=nonce), mimetype="text/html")
    # 'self' only: the page talks to this service and nothing on the internet.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
