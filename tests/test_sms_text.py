"""SMS segment counting and the Tencent/Aliyun template and signature rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from app.delivery.sms_text import (
    GSM7_BASIC,
    check_positional_template,
    check_signature,
    positional_placeholders,
    segments,
)


def test_gsm7_basic_table_is_complete() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions less ESC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # extension characters take two septets
        ("€" * 81, ("GSM-7", 2)),
        ("^" * 80, ("GSM-7", 1)),
        ("a" * 159 + "^", ("GSM-7", 2)),
        ("a" * 152 + "€" + "a" * 152, ("GSM-7", 3)),  # 306 septets, but € cannot be split
        ("Über Ça: é è ù ì ò Ñ ß @£$¥", ("GSM-7", 1)),  # accented letters of the GSM table
        ("ï", ("UCS-2", 1)),  # ... but not every accented letter
        ("验" * 70, ("UCS-2", 1)),
        ("验" * 71, ("UCS-2", 2)),
        ("验" * 134, ("UCS-2", 2)),
        ("验" * 135, ("UCS-2", 3)),
        ("a" * 69 + "验", ("UCS-2", 1)),  # one non-GSM character makes the whole text UCS-2
        ("a" * 70 + "á", ("UCS-2", 2)),  # á is not in the GSM table
        ("😀" * 35, ("UCS-2", 1)),  # emoji are surrogate pairs: two code units
        ("😀" * 36, ("UCS-2", 2)),
        ("a" * 66 + "😀" + "a" * 66, ("UCS-2", 3)),  # 134 units, but a pair is never split
    ],
)
def test_segments(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


@pytest.mark.parametrize(
    "body",
    [
        "{1} is your login verification code, please fill it in within {2} minutes.",
        "Code {2}, valid for {1} minutes.",  # order in the text is free
        "Your code is {1}; again: {1}.",
        "No placeholders at all.",
    ],
)
def test_positional_template_accepted(body: str) -> None:
    check_positional_template(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Code {2} expires soon", "consecutively starting from {1}"),
        ("Code {1}, {3} minutes", "consecutively starting from {1}"),
        ("Code {0}", "not a positive number"),
        ("Code {01}", "not a positive number"),
        ("Code {code}", "not a positive number"),
        ("Code { 1 }", "not a positive number"),
        ("【Tencent】Code {1}", "cannot contain 【】"),
        ("Code {1} 】", "cannot contain 【】"),
    ],
)
def test_positional_template_refused(body: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_positional_template(body)


def test_placeholders_in_order() -> None:
    assert positional_placeholders("{2} then {1} then {2}") == [2, 1, 2]


@pytest.mark.parametrize("sign", ["Tencent Technology", "腾讯科技", "A"])
def test_signature_accepted(sign: str) -> None:
    check_signature(sign)


@pytest.mark.parametrize(
    ("sign", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (" Tencent", "whitespace"),
        ("【腾讯科技】", "without 【】"),
        ("腾讯科技】", "without 【】"),
    ],
)
def test_signature_refused(sign: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_signature(sign)


def test_start_up_warns_about_texts_over_two_segments(
    make_app: Callable[..., Flask], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long_text = "{code} " + "Ваш код подтверждения для входа в приложение. " * 3
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "providers: {console: {type: console}}\n"
        "own_numbers: {default: [{provider: console}]}\n"
        f"templates: {{login: {{ru: '{long_text}'}}}}\n"
    )
    with caplog.at_level(logging.WARNING):
        make_app(OTP_ROUTING_FILE=str(routing))
    warnings = [r.getMessage() for r in caplog.records if "SMS segments" in r.getMessage()]
    assert warnings == [
        "message text over 2 SMS segments (each is billed): templates.login.ru: 3 UCS-2 segments"
    ]
