"""What the Twilio adapter sends on WhatsApp: an approved template, or (if allowed) plain text.

Since April 2025 a business-initiated WhatsApp message outside the 24-hour customer service
window must be an approved template sent by its Content SID (`ContentSid`) with its variables
(`ContentVariables`); a plain `Body` fails with Twilio error 63016. One-time codes go to people
who have mostly not written to the business in the last day, so a provider serving WhatsApp
needs `whatsapp_templates`, per purpose ("*" for any) and locale; `session_messages: true`
allows the plain text where no template fits, for deployments that answer within the window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from .base import ConfigError, FailureClass, Message, ProviderError

CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
VALUES = ("code", "minutes")  # what a template variable can be given
# A WhatsApp authentication template has one variable, {{1}}: the code.
DEFAULT_VARIABLES = {"code": "1"}
ANY_PURPOSE = "*"


@dataclass(frozen=True)
class Template:
    content_sid: str
    variables: dict[str, str]  # value name (code, minutes) -> variable number

    def params(self, message: Message) -> dict[str, str]:
        """The Messages API parameters that send this template filled for the message."""
        values = {"code": message.code, "minutes": str(message.ttl_minutes)}
        filled = {number: values[name] for name, number in self.variables.items()}
        return {"content_sid": self.content_sid, "content_variables": json.dumps(filled)}


@dataclass(frozen=True)
class WhatsAppContent:
    templates: dict[str, dict[str, Template]]  # purpose -> locale -> template
    session_messages: bool

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], channels: frozenset[str]) -> Self:
        """`whatsapp_templates` and `session_messages`; one of them to serve whatsapp."""
        session = settings.get("session_messages", False)
        if not isinstance(session, bool):
            raise ConfigError("session_messages", "must be true or false")
        templates = _templates(settings.get("whatsapp_templates"))
        if "whatsapp" in channels and not templates and not session:
            raise ConfigError(
                "whatsapp_templates",
                "required to serve whatsapp: an approved template (content_sid) per purpose and "
                "locale, or session_messages: true to send plain text, which WhatsApp delivers "
                "only within 24 hours of the recipient's last message",
            )
        return cls(templates, session)

    def params(self, message: Message) -> dict[str, str]:
        """The template of the message's purpose and locale, else the plain text if allowed;
        ROUTE when neither: the plan moves on (to SMS, with a channel fallback)."""
        template = self._pick(message.purpose, message.locale)
        if template is not None:
            return template.params(message)
        if self.session_messages:
            return {"body": message.text}
        raise ProviderError(
            FailureClass.ROUTE,
            f"twilio: no WhatsApp template for {message.purpose!r} in {message.locale!r}",
            "no_template",
        )

    def _pick(self, purpose: str, locale: str) -> Template | None:
        """The purpose's own templates before the "*" ones; the locale, its language, then en."""
        language = locale.replace("_", "-").split("-")[0].lower()
        for locales in (self.templates.get(purpose, {}), self.templates.get(ANY_PURPOSE, {})):
            for candidate in (locale, language, "en"):
                if candidate in locales:
                    return locales[candidate]
        return None


def _templates(raw: Any) -> dict[str, dict[str, Template]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("whatsapp_templates", "a mapping of purpose -> locale -> template")
    templates: dict[str, dict[str, Template]] = {}
    for purpose, locales in raw.items():
        if not isinstance(locales, Mapping) or not locales:
            raise ConfigError(f"whatsapp_templates.{purpose}", "a mapping of locale -> template")
        templates[str(purpose)] = {
            str(locale): _template(f"whatsapp_templates.{purpose}.{locale}", entry)
            for locale, entry in locales.items()
        }
    return templates


def _template(key: str, entry: Any) -> Template:
    """{content_sid: HX..., variables: {code: 1, minutes: 2}}; variables default to {code: 1}."""
    if not isinstance(entry, Mapping):
        raise ConfigError(key, "a mapping with content_sid and variables")
    sid = entry.get("content_sid")
    if not isinstance(sid, str) or not CONTENT_SID.match(sid):
        raise ConfigError(f"{key}.content_sid", "must be a Content SID: HX and 32 hex digits")
    variables = entry.get("variables", DEFAULT_VARIABLES)
    if not isinstance(variables, Mapping) or "code" not in variables or set(variables) - {*VALUES}:
        raise ConfigError(f"{key}.variables", "a mapping of code (required), minutes -> number")
    numbers = {str(name): str(number) for name, number in variables.items()}
    used = list(numbers.values())
    if len(set(used)) < len(used) or not all(n.isdigit() and n[0] != "0" for n in used):
        raise ConfigError(f"{key}.variables", "variables are numbered 1, 2, ... each used once")
    return Template(sid, numbers)
