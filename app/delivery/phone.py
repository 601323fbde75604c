"""Destinations: where the country is decided. A number is parsed once, normalised to E.164,
classified, and refused when it cannot take a code (rule 1); an e-mail address or a WeChat
openid has no country."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from app import masking
from app.errors import ApiError

# Types a one-time code can reach; premium-rate, shared-cost, pagers and the like are refused.
REACHABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
}
# Channels that need a number able to take a text message.
TEXT_CHANNELS = {"sms", "whatsapp"}
_TYPE_NAMES = {
    value: name.lower() for name, value in vars(PhoneNumberType).items() if name.isupper()
}


# The kinds a stored verification keeps, each in one or two letters.
KIND_CODES = {
    "mobile": "m",
    "fixed_line": "f",
    "fixed_line_or_mobile": "fm",
    "voip": "v",
    "personal_number": "p",
}
KINDS = {code: kind for kind, code in KIND_CODES.items()}


@dataclass(frozen=True)
class Destination:
    """Where a code goes, the one value the plan, the store and the message take: the address
    it is sent and filed under (an E.164 number, an e-mail address or a WeChat openid), the
    ISO country that routes it ("" for an address without one) and a number's kind."""

    to: str
    country: str
    kind: str | None = None  # mobile, fixed_line, fixed_line_or_mobile, voip, ...

    @property
    def masked(self) -> str:
        """+86138****8000, a***@example.com, oUpF***eS6o: enough to recognise, not to use."""
        if self.to.startswith("+"):
            return mask(self.to)
        return mask_email(self.to) if "@" in self.to else mask_openid(self.to)


def address(to: str) -> Destination:
    """An e-mail address or a WeChat openid: no country, no number kind."""
    return Destination(to, "")


def parse(raw: str, country: str | None = None) -> Destination:
    """Parse an E.164 number, or a national one with its ISO country; refuse the unreachable."""
    try:
        number = phonenumbers.parse(raw, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ApiError("invalid_phone", f"Not a phone number: {exc}.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ApiError("invalid_phone", "The phone number is not a valid number.")
    kind = phonenumbers.number_type(number)
    if kind not in REACHABLE:
        raise ApiError(
            "invalid_phone",
            "The phone number cannot receive one-time codes.",
            {"type": _TYPE_NAMES.get(kind, "unknown")},
        )
    region = phonenumbers.region_code_for_number(number) or "001"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Destination(e164, region, _TYPE_NAMES[kind])


def takes(kind: str | None, channel: str) -> bool:
    """Whether a number of this kind can receive this channel: a fixed line takes a voice
    call but no text message. None (an e-mail address, no number) takes every channel."""
    return not (kind == "fixed_line" and channel in TEXT_CHANNELS)


def kind_of(to: str) -> str | None:
    """The kind of an E.164 number known to be valid, None for an e-mail address or openid."""
    return parse(to).kind if to.startswith("+") else None


def calling_country(number: str) -> str:
    """The first country of an E.164 number's calling code (+1 US, +44 GB, +800 001), told
    without parsing the number: its country unless a region of the code has its own (+1 CA)."""
    for digits in (1, 2, 3):
        countries = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(number[1 : 1 + digits]))
        if countries:
            return countries[0]
    return ""


def check_channel(destination: Destination, channel: str) -> None:
    """A fixed line takes a voice call but no text message."""
    if not takes(destination.kind, channel):
        raise ApiError(
            "unsupported_channel",
            f"A fixed-line number cannot receive {channel} messages; use voice.",
            {"channel": channel, "type": destination.kind},
        )


mask = masking.mask_number
mask_email = masking.mask_email


def mask_openid(openid: str) -> str:
    """oUpF8uMuAJO_M2pxb1Q9zNjWeS6o -> oUpF***eS6o: recognisable, not usable."""
    if len(openid) <= 8:
        return openid[:1] + "***"
    return openid[:4] + "***" + openid[-4:]
