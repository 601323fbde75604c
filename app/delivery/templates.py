"""Message texts per purpose and locale, checked at start-up."""

from __future__ import annotations

import string
from collections.abc import Mapping

from .sms_text import segments

FIELDS = frozenset({"code", "minutes", "app"})

DEFAULTS: dict[str, dict[str, str]] = {
    "*": {
        "en": "{code} is your {app} verification code. It expires in {minutes} minutes.",
        "zh": "您的{app}验证码是{code}，{minutes}分钟内有效。",
        "es": "{code} es tu código de verificación de {app}. Caduca en {minutes} minutos.",
        "fr": "{code} est votre code de vérification {app}. Il expire dans {minutes} minutes.",
        "de": "{code} ist Ihr {app}-Bestätigungscode. Er läuft in {minutes} Minuten ab.",
    },
    "login": {
        "en": "{code} is your {app} login code. It expires in {minutes} minutes.",
        "zh": "您的{app}登录验证码是{code}，{minutes}分钟内有效。",
    },
    "reset_password": {
        "en": "{code} is your {app} password reset code. It expires in {minutes} minutes.",
    },
}


def check(text: str) -> None:
    """Raise ValueError unless `text` is a format string using only known fields and {code}."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"malformed template {text!r}: {exc}") from exc
    unknown = names - FIELDS
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)} in {text!r}")
    if "code" not in names:
        raise ValueError(f"template {text!r} has no {{code}}")


class Templates:
    def __init__(self, app_name: str, overrides: Mapping[str, Mapping[str, str]]) -> None:
        self.app_name = app_name
        self.texts = {purpose: dict(locales) for purpose, locales in DEFAULTS.items()}
        for purpose, locales in overrides.items():
            self.texts.setdefault(purpose, {}).update(locales)

    def _pick(self, purpose: str, locale: str) -> str:
        language = locale.split("-")[0].split("_")[0].lower()
        for texts in (self.texts.get(purpose, {}), self.texts["*"]):
            for candidate in (locale, language, "en"):
                if candidate in texts:
                    return texts[candidate]
        return self.texts["*"]["en"]

    def render(self, purpose: str, locale: str, code: str, minutes: int) -> str:
        return self._pick(purpose, locale).format(code=code, minutes=minutes, app=self.app_name)

    def too_long(self, code_length: int, limit: int = 2) -> list[str]:
        """Texts that take more than `limit` SMS segments, each described for a warning."""
        long = []
        for purpose, locales in self.texts.items():
            for locale, text in locales.items():
                sample = text.format(code="8" * code_length, minutes=10, app=self.app_name)
                encoding, count = segments(sample)
                if count > limit:
                    long.append(f"templates.{purpose}.{locale}: {count} {encoding} segments")
        return long
