"""Development-mode demo: a login page that drives the whole verification flow in a browser.

The page also enrols an authenticator app and signs in with its codes. The TOTP endpoints are
for trusted callers, and the page holds no API key: its three calls come here, and run the
trusted endpoints' own views server-side, as the tenant's backend would call them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, render_template

from app.errors import ApiError
from app.guard.bot_check import BotCheck

from . import factors

bp = Blueprint("demo", __name__, template_folder="templates")


@bp.get("/demo")
def demo() -> Response:
    """The demo login page; its inline script and style run only under this request's nonce."""
    nonce = secrets.token_urlsafe(16)
    services = current_app.extensions["otp"]
    totp = services.factors is not None
    bot = services.guard.bot_check if services.guard else None
    page = render_template("demo.html", nonce=nonce, totp=totp, bot=bot)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _policy(nonce, bot)
    response.headers["Cache-Control"] = "no-store"
    return response


def _policy(nonce: str, bot: BotCheck | None) -> str:
    """'self' only: the page talks to this service and nothing on the internet, but for the
    bot check's widget when one is configured."""
    directives = {
        "default-src": "'none'",
        "script-src": f"'nonce-{nonce}'",
        "style-src": f"'nonce-{nonce}'",
        "connect-src": "'self'",
        "img-src": "'self' data:",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    for directive, origins in (bot.widget.sources if bot else {}).items():
        directives[directive] = f"{directives.get(directive, '')} {origins}".strip()
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _as_backend(view: Callable[..., Response], *args: str) -> Response:
    """Run a trusted TOTP view for the page, as its backend would with an API key."""
    if current_app.extensions["otp"].factors is None:
        raise ApiError("not_found", "Authenticator-app factors are off (OTP_TOTP=off).")
    g.trusted = True
    return view(*args)


@bp.post("/demo/totp/factors")
def totp_enrol() -> Response:
    """Enrol an authenticator app for the demo page."""
    return _as_backend(factors.enrol)


@bp.post("/demo/totp/factors/<factor_id>/confirm")
def totp_confirm(factor_id: str) -> Response:
    """Confirm the demo page's factor with its first code."""
    return _as_backend(factors.confirm, factor_id)


@bp.post("/demo/totp/verify")
def totp_verify() -> Response:
    """Sign in on the demo page with an authenticator code."""
    return _as_backend(factors.verify)
