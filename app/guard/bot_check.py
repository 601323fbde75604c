"""The bot check: a Turnstile, hCaptcha or reCAPTCHA v3 token checked at its provider.

The page runs the provider's widget and sends the token it gets as `captcha_token`; the
service posts it, with the secret and the client's address, to the provider's `siteverify`
and reads `success` (and reCAPTCHA v3's `score`). When `siteverify` cannot be reached in
time, `on_error` decides: `open` lets the request through, `closed` does not.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from app.metrics import families as metrics

from .config import BotCheckConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Widget:
    """What a provider's widget needs: its siteverify, its script, and the page's CSP."""

    siteverify: str
    script: str
    sources: dict[str, str]  # CSP directive -> the origins to allow


PROVIDERS = {
    "turnstile": Widget(
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        {
            "script-src": "https://challenges.cloudflare.com",
            "frame-src": "https://challenges.cloudflare.com",
        },
    ),
    "hcaptcha": Widget(
        "https://api.hcaptcha.com/siteverify",
        "https://js.hcaptcha.com/1/api.js",
        {
            directive: "https://hcaptcha.com https://*.hcaptcha.com"
            for directive in ("script-src", "frame-src", "style-src", "connect-src")
        },
    ),
    "recaptcha": Widget(
        "https://www.google.com/recaptcha/api/siteverify",
        "https://www.google.com/recaptcha/api.js?render={site_key}",
        {
            "script-src": "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
            "frame-src": "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
        },
    ),
}
MAX_ANSWER = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The secret goes to the configured URL only."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class BotCheck:
    def __init__(self, config: BotCheckConfig) -> None:
        self.config = config
        self.widget = PROVIDERS[config.provider]
        self.url = config.verify_url or self.widget.siteverify
        self._opener = urllib.request.build_opener(_NoRedirect)

    @property
    def always(self) -> bool:
        return self.config.when == "always"

    def script(self) -> str:
        """The widget's script URL for a page."""
        return self.widget.script.format(site_key=urllib.parse.quote(self.config.site_key))

    def verdict(self, token: str | None, ip: str | None) -> str:
        """`passed`, or why not: `missing`, `invalid`, `low_score`, `unreachable` (with
        on_error closed; open lets it pass as `unreachable_open`)."""
        result = self._verdict(token, ip)
        metrics.BOT_CHECKS.labels(self.config.provider, result).inc()
        return result

    def _verdict(self, token: str | None, ip: str | None) -> str:
        if not token:
            return "missing"
        answer = self._siteverify(token, ip)
        if answer is None:
            return "unreachable_open" if self.config.on_error == "open" else "unreachable"
        if answer.get("success") is not True:
            return "invalid"
        score = answer.get("score")
        if self.config.provider == "recaptcha" and not _at_least(score, self.config.min_score):
            return "low_score"
        return "passed"

    def _siteverify(self, token: str, ip: str | None) -> dict[str, Any] | None:
        """The provider's answer, or None when it cannot be had in time."""
        form = {"secret": self.config.secret, "response": token}
        if ip:
            form["remoteip"] = ip
        if self.config.provider == "hcaptcha":
            form["sitekey"] = self.config.site_key
        body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.url, body, method="POST")  # noqa: S310 - http(s)
        try:
            with self._opener.open(request, timeout=self.config.timeout) as answer:
                loaded = json.loads(answer.read(MAX_ANSWER))
        except (OSError, HTTPException, ValueError) as exc:
            log.warning("bot check unreachable: %s", type(exc).__name__)
            return None
        return loaded if isinstance(loaded, dict) else None


def _at_least(score: Any, minimum: float) -> bool:
    return isinstance(score, int | float) and not isinstance(score, bool) and score >= minimum
