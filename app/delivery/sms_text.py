"""SMS text checks: segment counting and the template/signature rules of Chinese SMS platforms."""

from __future__ import annotations

import math
import re

# GSM 03.38 default alphabet (ESC left out: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension-table characters cost two septets (ESC + the character).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Signatures are wrapped in these full-width brackets by the platform itself.
SIGNATURE_BRACKETS = ("【", "】")

_BRACED = re.compile(r"\{([^{}]*)\}")
_DOLLAR_BRACED = re.compile(r"\$\{([^{}]*)\}")


def segments(text: str) -> tuple[str, int]:
    """The encoding ("GSM-7" or "UCS-2") and the number of SMS segments `text` needs."""
    encoding, weights = _weighed(text)
    if encoding == "GSM-7":
        return encoding, _parts(weights, GSM7_SINGLE, GSM7_PART)
    return encoding, _parts(weights, UCS2_SINGLE, UCS2_PART)


def octets(text: str) -> int:
    """The bytes `text` takes as SMS user data: 7 bits a septet in GSM-7, 2 bytes a UTF-16
    code unit in UCS-2 (so 140 bytes are 160 GSM-7 or 70 UCS-2 characters)."""
    encoding, weights = _weighed(text)
    return math.ceil(sum(weights) * 7 / 8) if encoding == "GSM-7" else 2 * sum(weights)


def _weighed(text: str) -> tuple[str, list[int]]:
    """The encoding of `text` and what each of its characters costs in it."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    # UTF-16 code units: a character outside the BMP (emoji) is a surrogate pair.
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _parts(weights: list[int], single: int, part: int) -> int:
    """Segments for characters of these weights; a character never straddles two parts."""
    if sum(weights) <= single:
        return 1 if weights else 0
    count, used = 1, 0
    for weight in weights:
        if used + weight > part:
            count, used = count + 1, 0
        used += weight
    return count


def positional_placeholders(body: str) -> list[int]:
    """The numbers of the {n} placeholders in `body`, in order; ValueError for a non-numeric one."""
    numbers = []
    for inner in _BRACED.findall(body):
        if not inner.isdecimal() or inner.startswith("0"):
            raise ValueError(f"placeholder {{{inner}}} is not a positive number like {{1}}")
        numbers.append(int(inner))
    return numbers


def check_positional_template(body: str) -> None:
    """ValueError unless placeholders are {1}, {2}, ... numbered consecutively from 1 and the
    body has no 【】 (the platform reserves them for the signature)."""
    if any(bracket in body for bracket in SIGNATURE_BRACKETS):
        raise ValueError("the SMS template content cannot contain 【】 symbols")
    found = sorted(set(positional_placeholders(body)))
    if found != list(range(1, len(found) + 1)):
        listed = ", ".join(f"{{{n}}}" for n in found)
        raise ValueError(
            f"placeholders must be numbered consecutively starting from {{1}}, found {listed}"
        )


def variables(body: str) -> list[str]:
    """The names of the ${name} variables in `body` (Alibaba and Huawei templates), in order."""
    return _DOLLAR_BRACED.findall(body)


def check_variable_template(body: str) -> int:
    """How many values a template with ${...} variables takes; ValueError if it has 【】,
    which Alibaba and Huawei keep for the signature.

    Huawei variables are numbered (${1}, ${2}: one value per number) or typed (${NUM_6},
    ${TXT_20}, ${TEXT}: one value per occurrence), filled in order; Alibaba's are named."""
    if any(bracket in body for bracket in SIGNATURE_BRACKETS):
        raise ValueError("the SMS template content cannot contain 【】 symbols")
    names = variables(body)
    numbered = {name for name in names if name.isdecimal()}
    return len(numbered) + sum(1 for name in names if not name.isdecimal())


def check_signature(sign: str) -> None:
    """ValueError unless `sign` is a usable Tencent/Aliyun signature name.

    The name is looked up verbatim and the platform adds the 【】 itself, so a blank name,
    surrounding whitespace or brackets in the name can only make every send fail.
    """
    if not sign.strip():
        raise ValueError("the signature name must not be empty")
    if sign != sign.strip():
        raise ValueError("the signature name must not start or end with whitespace")
    if any(bracket in sign for bracket in SIGNATURE_BRACKETS):
        raise ValueError("give the signature name without 【】: the platform adds them")
