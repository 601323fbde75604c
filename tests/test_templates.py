"""Message texts: the built-in translations, locale matching, the lookup order, the answer."""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.delivery.sms_text import segments
from app.delivery.templates import Templates, candidates, check
from app.delivery.translations import BUILT_IN

LANGUAGES = {"en", "es", "fr", "de", "pt", "zh-Hans", "zh-Hant", "ar", "hi", "id", "ru"}
# Languages whose built-in texts stay within the GSM-7 alphabet (the rest need UCS-2).
GSM7_LANGUAGES = {"en", "fr", "de", "id"}
ALL_TEXTS = [
    pytest.param(text, tag, id=f"{purpose}-{tag}")
    for purpose, texts in BUILT_IN.items()
    for tag, text in texts.items()
]
PHONE = "+8613800138000"


def test_every_built_in_purpose_is_in_every_language() -> None:
    assert set(BUILT_IN) == {"*", "login", "reset_password"}
    for texts in BUILT_IN.values():
        assert set(texts) == LANGUAGES


@pytest.mark.parametrize(("text", "tag"), ALL_TEXTS)
def test_built_in_text_has_each_placeholder_once(text: str, tag: str) -> None:
    check(text)
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    assert sorted(names) == ["app", "code", "minutes"]


@pytest.mark.parametrize(("text", "tag"), ALL_TEXTS)
def test_built_in_text_fits_two_segments_with_the_longest_code(text: str, tag: str) -> None:
    sample = text.format(code="8" * 10, minutes=10, app="A" * 20)
    encoding, count = segments(sample)
    assert encoding == ("GSM-7" if tag in GSM7_LANGUAGES else "UCS-2")
    assert count <= 2


def test_no_built_in_text_is_warned_about_at_start_up(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(OTP_CODE_LENGTH="10", OTP_ISSUER="Twenty-char app name")
    assert not [r for r in caplog.records if "SMS segments" in r.getMessage()]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", ("en",)),
        ("EN_us", ("en-US", "en")),
        ("pt-BR", ("pt-BR", "pt")),
        ("zh", ("zh", "zh-Hans")),
        ("zh-CN", ("zh-CN", "zh-Hans", "zh")),
        ("zh-SG", ("zh-SG", "zh-Hans", "zh")),
        ("zh-hans", ("zh-Hans", "zh")),
        ("zh_TW", ("zh-TW", "zh-Hant", "zh")),
        ("zh-HK", ("zh-HK", "zh-Hant", "zh")),
        ("zh-Hant-HK", ("zh-Hant-HK", "zh-Hant", "zh")),
        ("es-419", ("es-419", "es")),
    ],
)
def test_locale_candidates(locale: str, expected: tuple[str, ...]) -> None:
    assert candidates(locale) == expected


TENANT = {
    "login": {"en": "{code} is your Acme login code.", "es_ES": "{code}: código Acme."},
    "approve": {"en": "{code} approves your Acme payment."},
    "*": {"zh": "{code}（Acme）"},
}


@pytest.mark.parametrize(
    ("purpose", "locale", "tag", "text"),
    [
        # The requested language first: the built-in Spanish login text, not the tenant's
        # English one.
        ("login", "es", "es", BUILT_IN["login"]["es"]),
        ("login", "es-MX", "es", BUILT_IN["login"]["es"]),
        # The tenant's own text for the locale before the built-in one.
        ("login", "es-ES", "es-ES", TENANT["login"]["es_ES"]),
        ("login", "fr", "fr", BUILT_IN["login"]["fr"]),
        ("reset_password", "pt-BR", "pt", BUILT_IN["reset_password"]["pt"]),
        ("login", "zh-TW", "zh-Hant", BUILT_IN["login"]["zh-Hant"]),
        # A purpose without built-in texts: its text in the language, else the generic one.
        ("approve", "de", "de", BUILT_IN["*"]["de"]),
        ("signup", "ru", "ru", BUILT_IN["*"]["ru"]),
        # The tenant's generic Chinese text before the built-in generic one ...
        ("signup", "zh-CN", "zh", TENANT["*"]["zh"]),
        # ... but after the built-in text for the purpose itself.
        ("login", "zh-CN", "zh-Hans", BUILT_IN["login"]["zh-Hans"]),
        # A language nobody wrote: English, the tenant's before the built-in.
        ("login", "ja", "en", TENANT["login"]["en"]),
        ("approve", "ja", "en", TENANT["approve"]["en"]),
        ("reset_password", "ja", "en", BUILT_IN["reset_password"]["en"]),
        ("signup", "ja", "en", BUILT_IN["*"]["en"]),
    ],
)
def test_lookup_order(purpose: str, locale: str, tag: str, text: str) -> None:
    assert Templates("Acme", TENANT).pick(purpose, locale) == (tag, text)


def request_code(client: FlaskClient, **fields: str) -> dict[str, object]:
    response = client.post("/otp/request", json={"phone": PHONE, **fields})
    assert response.status_code == 202, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def outbox_text(client: FlaskClient) -> str:
    messages = client.get("/dev/outbox", query_string={"to": PHONE}).get_json()["messages"]
    return str(messages[0]["text"])


@pytest.mark.parametrize(
    ("purpose", "locale", "tag"),
    [
        ("reset_password", "pt-BR", "pt"),
        ("login", "zh-TW", "zh-Hant"),
        ("login", "ar", "ar"),
        ("signup", "hi-IN", "hi"),
        ("login", "ja", "en"),
    ],
)
def test_the_answer_names_the_locale_the_text_is_in(
    client: FlaskClient, purpose: str, locale: str, tag: str
) -> None:
    started = request_code(client, purpose=purpose, locale=locale)
    assert started["locale"] == tag
    text = outbox_text(client)
    code = re.search(r"\d{6}", text)
    assert code is not None
    expected = BUILT_IN.get(purpose, BUILT_IN["*"])[tag]
    assert text == expected.format(code=code.group(), minutes=5, app="otp-service")


def test_a_tenant_text_from_the_routing_file(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "providers: {console: {type: console}}\n"
        "own_numbers: {default: [{provider: console}]}\n"
        "templates: {login: {es_MX: '{code} es tu clave de {app}.'}}\n"
    )
    client = make_app(OTP_ROUTING_FILE=str(routing)).test_client()
    started = request_code(client, locale="es-mx")
    assert started["locale"] == "es-MX"
    assert outbox_text(client).endswith(" es tu clave de otp-service.")
