"""What the routing file's `fraud_guard:` section says, as plain data (read by app/routing_file).

Every figure is a setting; docs/fraud-guard.md gives each default and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("off", "monitor", "enforce")
SCOPES = ("prefix", "country", "ip")


@dataclass(frozen=True)
class Rule:
    """A window's limit: suspect when its unverified sends would exceed
    max(floor, factor x the baseline the scope is measured against)."""

    floor: float
    factor: float


@dataclass(frozen=True)
class PrefixRules:
    hour: Rule = Rule(20, 0.002)  # baseline: the country's verified sends in the hour
    day: Rule = Rule(60, 0.002)  # baseline: the country's verified sends in the day
    own: float = 1.0  # and never below this many times the prefix's own verified sends


@dataclass(frozen=True)
class CountryRules:
    # baseline: its verified sends in the hour, or an hour's share of its best day if greater
    hour: Rule = Rule(100, 0.5)
    day: Rule = Rule(300, 0.5)  # baseline: its best verified day of the last `baseline_days`
    baseline_days: int = 14


@dataclass(frozen=True)
class AddressRules:
    countries: int = 3  # countries asked for in a day and verified in none, at most
    hour: Rule = Rule(30, 1.0)  # baseline: the address's own verified sends in the hour


@dataclass(frozen=True)
class BotCheckConfig:
    """A bot check (Turnstile, hCaptcha, reCAPTCHA v3) checked at the provider's siteverify."""

    provider: str  # turnstile, hcaptcha, recaptcha
    site_key: str
    secret: str = field(repr=False)
    when: str = "suspect"  # always, or only when the guard finds a request suspect
    min_score: float = 0.5  # reCAPTCHA v3: the lowest score that passes
    timeout: float = 3.0  # seconds for the siteverify call
    on_error: str = "open"  # siteverify unreachable: let the request through (open) or not
    verify_url: str = ""  # "": the provider's own siteverify


@dataclass(frozen=True)
class GuardConfig:
    mode: str = "off"  # every country not named in `countries`
    countries: dict[str, str] = field(default_factory=dict)  # country -> mode
    prefix_digits: int = 3  # digits dropped from the end of a number to give its prefix
    prefix: PrefixRules = PrefixRules()
    country: CountryRules = CountryRules()
    ip: AddressRules = AddressRules()
    blocks: tuple[int, ...] = (3600, 43200, 604800)  # block lengths, escalating
    escalate_within: int = 86400  # a block this soon after the last one ends goes up a step
    safe_list: tuple[str, ...] = ()  # numbers and prefixes never counted nor blocked
    bot_check: BotCheckConfig | None = None

    def mode_for(self, country: str) -> str:
        return self.countries.get(country, self.mode)

    @property
    def enabled(self) -> bool:
        """Whether any country is guarded at all."""
        return self.mode != "off" or any(mode != "off" for mode in self.countries.values())
