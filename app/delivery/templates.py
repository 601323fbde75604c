"""Message texts per purpose and locale: the tenant's own, then the built-in translations.

A text is looked up language first: in the requested locale (its exact tag, then its script,
then its language), the tenant's text for the purpose, the built-in one, the tenant's generic
("*") text, the built-in generic one; only when the language has none of these, the same in
English. So a Spanish reader gets the built-in Spanish login text rather than the tenant's
English one, and the tenant's Spanish text rather than the built-in Spanish one.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from . import autofill
from .autofill import Domains
from .providers.base import Message
from .sms_text import octets, segments
from .translations import BUILT_IN

FIELDS = frozenset({"code", "minutes", "app"})
GENERIC = "*"
FALLBACK = ("en",)
# The script a Chinese tag without one is written in: Traditional where it is the usage.
_CHINESE_TRADITIONAL_REGIONS = frozenset({"TW", "HK", "MO"})


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


def canonical(tag: str) -> str:
    """A locale tag in BCP 47 case: pt_br -> pt-BR, zh-hans -> zh-Hans."""
    language, *rest = tag.replace("_", "-").split("-")
    return "-".join([language.lower(), *(_subtag(part) for part in rest)])


def _subtag(part: str) -> str:
    if len(part) == 4 and part.isalpha():
        return part.title()  # a script
    if (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
        return part.upper()  # a region
    return part.lower()


def candidates(locale: str) -> tuple[str, ...]:
    """The tags a locale matches, most specific first: zh-TW -> zh-TW, zh-Hant, zh."""
    tag = canonical(locale)
    language, *rest = tag.split("-")
    tags = [tag]
    if language == "zh":
        tags.append(f"zh-{_chinese_script(rest)}")
    tags.append(language)
    return tuple(dict.fromkeys(tags))


def _chinese_script(subtags: list[str]) -> str:
    explicit = [part for part in subtags if len(part) == 4]
    if explicit:
        return explicit[0]
    traditional = _CHINESE_TRADITIONAL_REGIONS.intersection(subtags)
    return "Hant" if traditional else "Hans"


@dataclass(frozen=True)
class Texts:
    """The texts of one send: SMS with its autofill lines, every other channel without."""

    tag: str  # the locale of the text (Templates.locale_for)
    plain: str
    sms: str

    def for_channel(self, channel: str) -> str:
        return self.sms if channel == "sms" else self.plain

    def fits_retriever(self) -> bool:
        """Whether the SMS is short enough for Android's SMS Retriever to read."""
        return octets(self.sms) <= autofill.RETRIEVER_BYTES


class Templates:
    def __init__(
        self,
        app_name: str,
        overrides: Mapping[str, Mapping[str, str]],
        domains: Domains | None = None,
    ) -> None:
        self.app_name = app_name
        self.tenant = {
            purpose: {canonical(tag): text for tag, text in locales.items()}
            for purpose, locales in overrides.items()
        }
        self.domains = domains or Domains()

    def pick(self, purpose: str, locale: str) -> tuple[str, str]:
        """The tag and the text of the best text for `purpose` in `locale` (module docstring)."""
        sources = (
            self.tenant.get(purpose, {}),
            BUILT_IN.get(purpose, {}),
            self.tenant.get(GENERIC, {}),
            BUILT_IN[GENERIC],
        )
        # The built-in generic English text ends every search.
        return next(
            (tag, texts[tag])
            for tags in (candidates(locale), FALLBACK)
            for texts in sources
            for tag in tags
            if tag in texts
        )

    def locale_for(self, purpose: str, locale: str) -> str:
        """The tag of the text a message for `purpose` in `locale` is written in."""
        return self.pick(purpose, locale)[0]

    def render(self, message: Message) -> Texts:
        """The message's texts with the placeholders filled in ({app} is `message.app`)."""
        tag, text = self.pick(message.purpose, message.locale)
        plain = text.format(code=message.code, minutes=message.ttl_minutes, app=message.app)
        domain = self.domains.of(message.purpose)
        return Texts(tag, plain, plain + autofill.lines(message.code, message.app_hash, domain))

    def too_long(self, code_length: int, limit: int = 2) -> list[str]:
        """Texts that take more than `limit` SMS segments, each described for a warning: each
        measured with the autofill lines an SMS of its purpose may carry (an app hash, the
        WebOTP line)."""
        code, app_hash = "8" * code_length, "A" * autofill.APP_HASH_LENGTH
        long = []
        for label, purpose, text in self._labelled():
            domain = self.domains.longest() if purpose == GENERIC else self.domains.of(purpose)
            sample = text.format(code=code, minutes=10, app=self.app_name)
            encoding, count = segments(sample + autofill.lines(code, app_hash, domain))
            if count > limit:
                long.append(f"{label}: {count} {encoding} segments")
        return long

    def _labelled(self) -> Iterator[tuple[str, str, str]]:
        """Every text, tenant's and built-in, named by where it comes from, with its purpose."""
        for origin, texts in (("templates", self.tenant), ("built-in", BUILT_IN)):
            for purpose, locales in texts.items():
                for tag, text in locales.items():
                    yield f"{origin}.{purpose}.{tag}", purpose, text
