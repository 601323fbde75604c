"""OTP verification service: issue, deliver and verify one-time codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import cli, cors, errors, jsonio, logs, ratelimit, services
from app import settings as settings_module
from app.metrics import exposition


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides environment variables of the same names."""
    settings = settings_module.load(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    jsonio.init_app(app)
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    built = services.build(settings)
    app.extensions["otp"] = built
    _register_blueprints(app, settings.development, settings.totp)
    if settings.twilio_account_sid:
        from app.api import twilio_verify

        app.register_blueprint(twilio_verify.bp)
    errors.register(app)
    ratelimit.init_app(app, built.redis_url, built.redis)
    app.cli.add_command(cli.otp)
    logs.configure()
    logs.init_app(app)
    exposition.init_app(app)
    cors.init_app(app, settings)  # last: its hooks see every answer first
    return app


def _register_blueprints(app: Flask, development: bool, totp: bool) -> None:
    from app.api import callbacks, demo, dev, factors, openapi, ops, otp

    app.register_blueprint(otp.bp)
    app.register_blueprint(callbacks.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(ops.bp)
    if totp:
        app.register_blueprint(factors.bp)
    if development:
        app.register_blueprint(dev.bp)
        app.register_blueprint(demo.bp)
