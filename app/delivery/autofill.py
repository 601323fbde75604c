"""The lines after an SMS text that let the phone fill the code in by itself.

- Android's SMS Retriever API hands a message to the app whose 11-character hash it carries
  (https://developers.google.com/identity/sms-retriever/verify): the hash goes on a line of
  its own after the text.
- Origin-bound one-time codes (https://wicg.github.io/sms-one-time-codes/), read by the
  WebOTP API in Chrome on Android and by Safari's autofill on iOS and macOS: the message's
  last line is `@domain #code`, so it comes after the hash.

Only SMS texts carry these lines (docs/messages.md, "Codes that fill themselves in").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Base64 of the first 9 bytes of a SHA-256, cut to 11 characters: Android's app hash.
APP_HASH_PATTERN = r"^[A-Za-z0-9+/]{11}$"
APP_HASH_LENGTH = 11
# What the SMS Retriever reads at most: one segment (160 GSM-7 or 70 UCS-2 characters).
RETRIEVER_BYTES = 140
# A host name as browsers match it against the page's site: ASCII labels (an internationalised
# name in its xn-- form), no port, no trailing dot.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DOMAIN_MAX = 253


def check_domain(value: str) -> str:
    """The WebOTP domain `value` names, in lower case; ValueError unless it is a host name."""
    domain = value.strip().lower()
    if len(domain) > _DOMAIN_MAX or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a host name like login.example.com")
    return domain


@dataclass(frozen=True)
class Domains:
    """The WebOTP domain of each purpose: the routing file's `webotp:` entry for it (null:
    none), else the deployment's (OTP_WEBOTP_DOMAIN), else none."""

    default: str | None = None
    purposes: Mapping[str, str | None] = field(default_factory=dict)

    def of(self, purpose: str) -> str | None:
        return self.purposes.get(purpose, self.default)

    def longest(self) -> str | None:
        """The longest domain any purpose may get: what a text of every purpose is measured
        with."""
        known = [name for name in (self.default, *self.purposes.values()) if name]
        return max(known, key=len, default=None)


def lines(code: str, app_hash: str, domain: str | None) -> str:
    """What follows the text of an SMS: the app hash on its own line, then `@domain #code`
    as the last line; "" when neither applies."""
    added = [app_hash] if app_hash else []
    if domain:
        added.append(f"@{domain} #{code}")
    return "".join("\n" + line for line in added)
