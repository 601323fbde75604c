"""Masking what must never be logged: phone numbers, e-mail addresses and codes.

Phone numbers and e-mail addresses are found by their shape. Codes have no shape of their own
(a six-digit code looks like a pid), so the code of the request or job at hand is registered
when it is derived (`keep_out`) and masked wherever it appears; ports, pids and other numbers
stay readable. Standard library only: gunicorn's master loads this file for its access log
without importing the service.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

# A number with its + (or %2B in a query string), or a bare run of digits long enough to be
# a national or international number; an e-mail address (or its %40-encoded form).
_PHONE = re.compile(r"(?:\+|%2[Bb])\d{6,15}(?!\d)|(?<![\d.:])\d{8,15}(?![\d.])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-]+?)(@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_KEPT_OUT: ContextVar[tuple[str, ...]] = ContextVar("kept_out", default=())
# A request or job has a code or two in hand. Work done outside any (a script calling the
# service in process, a thread with no `begin`) keeps only its latest codes, so what is kept
# never grows with the work done, nor does the cost of masking a line.
KEPT_AT_MOST = 16


def mask_number(number: str) -> str:
    """+8613800138000 -> +86138****8000: enough to recognise, not to dial."""
    if len(number) < 9:
        return number[:3] + "*" * max(0, len(number) - 3)
    return number[:6] + "****" + number[-4:]


def mask_email(address: str) -> str:
    """ana@example.com -> a***@example.com."""
    user, _, domain = address.partition("@")
    return (user[:1] + "***@" + domain) if domain else "***"


def _mask_found(number: str) -> str:
    """A number as found: with +, with +'s %2B encoding, or bare."""
    if number[:3] in ("%2B", "%2b"):
        return number[:3] + mask_number("+" + number[3:])[1:]
    return mask_number(number)


def begin() -> None:
    """A new request or job: forget the codes of the previous one on this thread."""
    _KEPT_OUT.set(())


def keep_out(secret: str) -> None:
    """Mask `secret` (a code) in every line logged until the next `begin` in this context
    (or until KEPT_AT_MOST later codes were kept)."""
    kept = _KEPT_OUT.get()
    if secret not in kept:
        _KEPT_OUT.set((*kept[1 - KEPT_AT_MOST :], secret))


def mask_text(text: str) -> str:
    """The text with kept-out codes, phone numbers and e-mail addresses masked."""
    for secret in _KEPT_OUT.get():
        text = text.replace(secret, "*" * len(secret))
    text = _PHONE.sub(lambda m: _mask_found(m.group()), text)
    return _EMAIL.sub(lambda m: m.group(1)[:1] + "***" + m.group(2) + m.group(3), text)
