"""Configuration: one validated object built from the environment (and test overrides).

Bad configuration stops start-up with a message naming each offending setting.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app import keys
from app.delivery.autofill import check_domain


class SettingsError(RuntimeError):
    """Configuration that cannot run; the message names every bad setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    development: bool
    redis_url: str | None
    data_dir: Path
    secret: str | None = field(repr=False)
    signing_key: str | None = field(repr=False)
    issuer: str = "otp-service"
    webotp_domain: str | None = None  # `@domain #code` ends every SMS (docs/messages.md)
    code_length: int = 6
    ttl: int = 300
    max_attempts: int = 5
    max_sends: int = 5
    resend_cooldown: int = 30
    token_ttl: int = 300
    limit_ip_request: str = "20/minute"
    limit_ip_verify: str = "60/minute"
    limit_phone_hourly: int = 10
    limit_phone_daily: int = 20
    trusted_proxies: int = 0
    test_numbers: dict[str, str] = field(default_factory=dict)
    allow_test_numbers: bool = False
    routing_file: Path | None = None
    send_timeout: float = 5.0
    plan_budget: float = 15.0
    health_cache_seconds: float = 1.0
    delivery: str = "inline"
    queue_redis_url: str | None = None
    max_body: int = 16 * 1024
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False
    cors_max_age: int = 600
    key_prefix: str = "otp"  # of every Redis key (app/keys.py)
    twilio_account_sid: str | None = None
    twilio_services: dict[str, str] = field(default_factory=dict)  # VA sid -> purpose
    # authenticator-app factors (docs/totp.md); `totp` defaults to on in development mode or
    # with keys given
    totp: bool = False
    totp_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    totp_issuer: str = ""
    totp_period: int = 30
    totp_skew: int = 1
    totp_max_attempts: int = 5
    totp_lock_seconds: int = 300
    totp_enrol_ttl: int = 600
    totp_max_factors: int = 5
    # flask-limiter's own settings (RATELIMIT_*), passed to it as Flask config
    ratelimit: dict[str, Any] = field(default_factory=dict)


N = TypeVar("N", int, float)


def _number(kind: Callable[[str], N], low: N, high: N) -> Callable[[str], N]:
    def parse(raw: str) -> N:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _int(low: int, high: int) -> Callable[[str], int]:
    return _number(int, low, high)


def _float(low: float, high: float) -> Callable[[str], float]:
    return _number(float, low, high)


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("must be true or false")


def _test_numbers(raw: str) -> dict[str, str]:
    """'+15005550006=123456,+15005550007=654321' -> {phone: code}."""
    numbers: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        phone, sep, code = item.partition("=")
        if not sep or not phone.startswith("+") or not code.isdigit():
            raise ValueError(f"{item!r} is not +E164=digits")
        numbers[phone] = code
    return numbers


def _api_keys(raw: str) -> tuple[str, ...]:
    """'key1,key2': several keys, so one can be rotated while the other still works."""
    keys = tuple(filter(None, (part.strip() for part in raw.split(","))))
    if any(len(key) < 24 or not key.isprintable() or " " in key for key in keys):
        raise ValueError("each key must be 24+ visible characters (e.g. secrets.token_urlsafe(32))")
    return keys


def _origins(raw: str) -> tuple[str, ...]:
    """'https://login.example.com,https://app.example.com': exact origins, or '*'."""
    origins = tuple(filter(None, (part.strip() for part in raw.split(","))))
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{origin!r} is not an origin like https://login.example.com")
    return origins


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _account_sid(raw: str) -> str:
    """The account SID Twilio's SDKs send as the Basic username: AC and 32 hex digits."""
    if not _ACCOUNT_SID.fullmatch(raw):
        raise ValueError("must be AC followed by 32 hex digits")
    return raw


def _twilio_services(raw: str) -> dict[str, str]:
    """'VA...=login,VA...=signup': each Verify service SID and the purpose it stands for."""
    services: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        sid, _, purpose = item.partition("=")
        if not _SERVICE_SID.fullmatch(sid):
            raise ValueError(f"{sid!r} is not VA followed by 32 hex digits")
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError(f"{item!r}: the purpose must be a-z, 0-9 and _, 1 to 32")
        if purpose in services.values() or sid in services:
            raise ValueError(f"{item!r}: each service and each purpose may appear once")
        services[sid] = purpose
    return services


_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"VA[0-9a-fA-F]{32}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _totp_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """'kid2:base64key,kid1:base64key': AES-256 keys by id; the first one seals."""
    keys = [_totp_key(item) for item in filter(None, (p.strip() for p in raw.split(",")))]
    if len({key_id for key_id, _ in keys}) != len(keys):
        raise ValueError("each key id must be unique")
    return tuple(keys)


def _totp_key(item: str) -> tuple[str, bytes]:
    """'kid:base64key' -> (kid, 32 bytes); a problem names the key id, never the key."""
    key_id, colon, encoded = item.partition(":")
    if not colon or not _KEY_ID.fullmatch(key_id):
        raise ValueError("each key reads id:base64, the id 1 to 32 of A-Z a-z 0-9 _ -")
    try:
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        raise ValueError(f"key {key_id!r} is not base64") from None
    if len(key) != 32:
        raise ValueError(f"key {key_id!r} must be 32 bytes (base64 of os.urandom(32))")
    return key_id, key


_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _key_prefix(raw: str) -> str:
    if not keys.VALID_PREFIX.fullmatch(raw):
        raise ValueError("1 to 32 of A-Z a-z 0-9 _ -")
    return raw


def _rate(raw: str) -> str:
    from limits import parse_many

    parse_many(raw)
    return raw


# setting name -> (environment variable, parser)
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "issuer": ("OTP_ISSUER", str),
    "webotp_domain": ("OTP_WEBOTP_DOMAIN", check_domain),
    "code_length": ("OTP_CODE_LENGTH", _int(4, 10)),
    "ttl": ("OTP_TTL", _int(1, 600)),
    "max_attempts": ("OTP_MAX_ATTEMPTS", _int(1, 20)),
    "max_sends": ("OTP_MAX_SENDS", _int(1, 10)),
    "resend_cooldown": ("OTP_RESEND_COOLDOWN", _int(0, 3600)),
    "token_ttl": ("OTP_TOKEN_TTL", _int(10, 3600)),
    "limit_ip_request": ("OTP_LIMIT_IP_REQUEST", _rate),
    "limit_ip_verify": ("OTP_LIMIT_IP_VERIFY", _rate),
    "limit_phone_hourly": ("OTP_LIMIT_PHONE_HOURLY", _int(1, 1_000_000)),
    "limit_phone_daily": ("OTP_LIMIT_PHONE_DAILY", _int(1, 10_000_000)),
    "trusted_proxies": ("OTP_TRUSTED_PROXIES", _int(0, 10)),
    "test_numbers": ("OTP_TEST_NUMBERS", _test_numbers),
    "allow_test_numbers": ("OTP_ALLOW_TEST_NUMBERS", _bool),
    "routing_file": ("OTP_ROUTING_FILE", Path),
    "send_timeout": ("OTP_SEND_TIMEOUT", _float(0.1, 60)),
    "plan_budget": ("OTP_PLAN_BUDGET", _float(0.1, 300)),
    "health_cache_seconds": ("OTP_HEALTH_CACHE_SECONDS", _float(0, 60)),
    "delivery": ("OTP_DELIVERY", _choice("inline", "queue")),
    "api_keys": ("OTP_API_KEYS", _api_keys),
    "cors_origins": ("OTP_CORS_ORIGINS", _origins),
    "cors_credentials": ("OTP_CORS_CREDENTIALS", _bool),
    "cors_max_age": ("OTP_CORS_MAX_AGE", _int(0, 86400)),
    "key_prefix": ("OTP_KEY_PREFIX", _key_prefix),
    "twilio_account_sid": ("OTP_TWILIO_ACCOUNT_SID", _account_sid),
    "twilio_services": ("OTP_TWILIO_SERVICES", _twilio_services),
    "totp": ("OTP_TOTP", _bool),
    "totp_keys": ("OTP_TOTP_KEYS", _totp_keys),
    "totp_issuer": ("OTP_TOTP_ISSUER", str),
    "totp_period": ("OTP_TOTP_PERIOD", _int(20, 60)),
    "totp_skew": ("OTP_TOTP_SKEW", _int(0, 2)),
    "totp_max_attempts": ("OTP_TOTP_MAX_ATTEMPTS", _int(1, 20)),
    "totp_lock_seconds": ("OTP_TOTP_LOCK_SECONDS", _int(1, 86400)),
    "totp_enrol_ttl": ("OTP_TOTP_ENROL_TTL", _int(1, 3600)),
    "totp_max_factors": ("OTP_TOTP_MAX_FACTORS", _int(1, 50)),
    "queue_redis_url": ("OTP_QUEUE_REDIS_URL", str),
}

# Settings whose values are secrets: a problem with one never quotes the value.
_SECRET_VALUES = {"OTP_API_KEYS", "OTP_TOTP_KEYS"}

# flask-limiter settings an operator may set by their own names; values parsed by kind.
RATELIMIT_SETTINGS: dict[str, Callable[[str], Any]] = {
    "RATELIMIT_ENABLED": _bool,
    "RATELIMIT_STRATEGY": _choice("fixed-window", "moving-window", "sliding-window-counter"),
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_KEY_PREFIX": str,
    "RATELIMIT_HEADERS_ENABLED": _bool,
    "RATELIMIT_SWALLOW_ERRORS": _bool,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": _bool,
}

ENV_NAMES = {name: env for name, (env, _) in _FIELDS.items()}


def load(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the environment, with `overrides` (env names as keys) taking precedence."""
    source: dict[str, Any] = {**os.environ, **(overrides or {})}
    development = str(source.get("OTP_ENV", "")).strip().lower() == "development"
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, (env, parse) in _FIELDS.items():
        raw = source.get(env)
        if raw is None or raw == "":
            continue
        try:
            values[name] = parse(str(raw))
        except (ValueError, ImportError) as exc:
            shown = "(hidden)" if env in _SECRET_VALUES else repr(raw)
            problems.append(f"{env}={shown}: {exc}")
    values.setdefault("totp", development or bool(values.get("totp_keys")))
    ratelimit = {}
    for env, parse in RATELIMIT_SETTINGS.items():
        if source.get(env) not in (None, ""):
            try:
                ratelimit[env] = parse(str(source[env]))
            except ValueError as exc:
                problems.append(f"{env}={source[env]!r}: {exc}")
    settings = Settings(
        development=development,
        redis_url=source.get("REDIS_URL") or None,
        data_dir=Path(source.get("OTP_DATA_DIR") or "var"),
        secret=source.get("OTP_SECRET") or None,
        signing_key=source.get("OTP_SIGNING_KEY") or None,
        ratelimit=ratelimit,
        **values,
    )
    problems += _production_problems(settings) + _cors_problems(settings)
    problems += _twilio_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def _cors_problems(settings: Settings) -> list[str]:
    if "*" in settings.cors_origins and settings.cors_credentials:
        # A browser refuses `*` with credentials; echoing any origin instead would let every
        # site on the internet make credentialed calls.
        return ["OTP_CORS_ORIGINS='*' cannot be used with OTP_CORS_CREDENTIALS=true"]
    return []


def _twilio_problems(settings: Settings) -> list[str]:
    """The Twilio Verify compatible API needs all three: its account, services and keys."""
    if not (settings.twilio_account_sid or settings.twilio_services):
        return []
    needed = {
        "OTP_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "OTP_TWILIO_SERVICES": settings.twilio_services,
        "OTP_API_KEYS": settings.api_keys,
    }
    return [f"the Twilio Verify API needs {name}" for name, value in needed.items() if not value]


def _production_problems(settings: Settings) -> list[str]:
    if settings.development:
        return []
    problems = []
    if not settings.secret:
        problems.append("OTP_SECRET is required outside development mode (32+ random bytes)")
    elif len(settings.secret) < 32:
        problems.append("OTP_SECRET must be at least 32 characters")
    if not settings.signing_key:
        problems.append("OTP_SIGNING_KEY is required outside development mode (an Ed25519 PEM)")
    if settings.routing_file is None:
        problems.append("OTP_ROUTING_FILE is required outside development mode")
    if settings.totp and not settings.totp_keys:
        problems.append("OTP_TOTP=on needs OTP_TOTP_KEYS outside development mode")
    if settings.test_numbers and not settings.allow_test_numbers:
        problems.append(
            "OTP_TEST_NUMBERS outside development mode needs OTP_ALLOW_TEST_NUMBERS=true"
        )
    return problems
