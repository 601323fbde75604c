"""Pieces shared by the template SMS adapters (aliyun, tencent, huawei)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from app.delivery.sms_text import check_signature

from ._common import optional, redact, require
from .base import ConfigError, FailureClass, Message, ProviderError

SMS_ONLY = frozenset({"sms"})
# What a template can be given: the one-time code, its lifetime in minutes, the app's name.
PARAM_NAMES = ("code", "minutes", "app")
# The values a positional template gets when `template_params` is not set.
DEFAULT_PARAMS = ("code", "minutes")


def signature_setting(settings: Mapping[str, Any], key: str) -> str:
    """A required signature name, checked against the platform's naming rules."""
    sign = require(settings, key)
    try:
        check_signature(sign)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
    return sign


def template_ids(settings: Mapping[str, Any]) -> dict[str, str]:
    """`templates`: a non-empty mapping of purpose -> template id."""
    templates = settings.get("templates")
    if not isinstance(templates, Mapping) or not templates:
        raise ConfigError("templates", "required: a mapping of purpose -> template id")
    return {
        str(purpose): identifier(f"templates.{purpose}", tid) for purpose, tid in templates.items()
    }


def identifier(key: str, value: object) -> str:
    """A non-empty id given as text or, as YAML reads bare digits, as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "required: a non-empty id")
    return value


def positional_params(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """`template_params`: the values filling the template's placeholders in order, each of
    code, minutes and app at most once; default code then minutes."""
    names = settings.get("template_params", DEFAULT_PARAMS)
    if (
        not isinstance(names, list | tuple)
        or "code" not in names
        or any(name not in PARAM_NAMES for name in names)
        or len(set(names)) != len(names)
    ):
        raise ConfigError(
            "template_params",
            "a list of code, minutes and app in the template's order, with code, "
            "each at most once: e.g. [code] or [code, minutes]",
        )
    return tuple(names)


def named_params(settings: Mapping[str, Any]) -> dict[str, str]:
    """`template_params`: our value name -> the template's variable name; default {code: code}."""
    params = settings.get("template_params", {"code": "code"})
    if (
        not isinstance(params, Mapping)
        or "code" not in params
        or any(name not in PARAM_NAMES for name in params)
        or not all(isinstance(var, str) and var for var in params.values())
    ):
        raise ConfigError(
            "template_params", "a mapping like {code: code, minutes: min} that includes 'code'"
        )
    return dict(params)


def check_bodies(
    settings: Mapping[str, Any], templates: Mapping[str, str], check: Callable[[str], None]
) -> None:
    """`template_bodies` (optional): purpose -> the approved template text, each checked by
    `check` (which raises ValueError) against the parameters this provider sends."""
    bodies = settings.get("template_bodies") or {}
    if not isinstance(bodies, Mapping):
        raise ConfigError("template_bodies", "a mapping of purpose -> approved template text")
    for purpose, body in bodies.items():
        key = f"template_bodies.{purpose}"
        if purpose not in templates:
            raise ConfigError(key, "no template id for this purpose in templates")
        if not isinstance(body, str):
            raise ConfigError(key, "must be the approved template text")
        try:
            check(body)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None


def check_count(found: int, params: tuple[str, ...]) -> None:
    """ValueError unless a template with `found` placeholders takes exactly these values."""
    if found != len(params):
        hint = ", ".join(PARAM_NAMES[: max(found, 1)])
        raise ValueError(
            f"the template has {found} placeholder(s) but template_params fills "
            f"{len(params)} ({', '.join(params)}): set template_params to one of code, "
            f"minutes and app per placeholder, in order, e.g. [{hint}]"
        )


def http_endpoint(settings: Mapping[str, Any], default: str | None) -> tuple[str, str] | None:
    """`endpoint` as (scheme, host[:port]); a bare host means https, e.g. the stand-in's URL."""
    raw = optional(settings, "endpoint") or default
    if raw is None:
        return None
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ConfigError("endpoint", "must be a host or an http(s)://host[:port] URL")
    return parts.scheme, parts.netloc


def template_for(kind: str, templates: Mapping[str, str], message: Message) -> str:
    """The template id for the message's purpose; ROUTE when this provider has none."""
    try:
        return templates[message.purpose]
    except KeyError:
        raise ProviderError(
            FailureClass.ROUTE, f"{kind}: no template configured for purpose {message.purpose!r}"
        ) from None


def param_values(message: Message) -> dict[str, str]:
    """The template parameter values by name."""
    return {"code": message.code, "minutes": str(message.ttl_minutes), "app": message.app}


def classify(
    code: str,
    exact: Mapping[str, FailureClass],
    prefixes: Mapping[str, FailureClass] | None = None,
) -> FailureClass | None:
    """The failure class a provider error code maps to, by exact code then by prefix."""
    if code in exact:
        return exact[code]
    for prefix, failure in (prefixes or {}).items():
        if code.startswith(prefix):
            return failure
    return None


def failure(
    kind: str,
    failure_class: FailureClass,
    code: str | None,
    detail: object,
    retry_after: int | None = None,
) -> ProviderError:
    """A ProviderError whose message is safe to log."""
    text = redact(str(detail))[:300]
    return ProviderError(failure_class, f"{kind}: {code or 'error'}: {text}", code, retry_after)
