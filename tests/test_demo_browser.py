"""The demo login page driven end to end in headless Chromium, against a real server thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from .conftest import outbox_code

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
except ImportError:
    pytest.skip(
        "the playwright package is missing: pip install -e '.[dev]'", allow_module_level=True
    )

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)",
        allow_module_level=True,
    )
# Nothing but the page under test: no updates, no sync, no background fetches.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(make_app: Callable[..., Flask]) -> Iterator[tuple[str, FlaskClient]]:
    """The service on a free 127.0.0.1 port, and a test client of the same app for the outbox."""
    app = make_app(OTP_RESEND_COOLDOWN="1")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app.test_client()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def page(browser: Browser, served: tuple[str, FlaskClient]) -> Iterator[Page]:
    """The demo page, opened fresh; any script error or CSP violation fails the test."""
    context = browser.new_context()
    context.set_default_timeout(5000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.extend(_script_errors(message)))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    response = opened.goto(served[0] + "/demo")
    assert response is not None
    assert response.status == 200, "GET /demo is served in development mode"
    yield opened
    context.close()
    assert errors == []


def _script_errors(message: ConsoleMessage) -> list[str]:
    """Console errors other than the browser's note on an expected 4xx answer."""
    expected = message.text.startswith("Failed to load resource")
    return [message.text] if message.type == "error" and not expected else []


def send_code(page: Page) -> None:
    page.click("#send")
    expect(page.locator("#sent")).to_contain_text("Code sent to")


def test_log_in_with_a_national_number(page: Page, served: tuple[str, FlaskClient]) -> None:
    page.select_option("#country", "CN")
    page.fill("#phone", "138 0013 8000")
    send_code(page)
    expect(page.locator("#route")).to_contain_text("console")
    expect(page.locator("#route")).to_contain_text("sent")

    page.fill("#code", outbox_code(served[1], "+8613800138000"))
    page.click("#verify")

    expect(page.locator("#result")).to_have_text("verified")
    token = json.loads(page.locator("#token").inner_text())
    assert token["header"]["alg"] == "EdDSA"
    assert token["payload"]["sub"] == "+8613800138000"


def test_wrong_code_then_resend_after_the_countdown(
    page: Page, served: tuple[str, FlaskClient]
) -> None:
    phone, client = "+12015550123", served[1]
    page.fill("#phone", phone)
    send_code(page)
    code = outbox_code(client, phone)

    page.fill("#code", "0" * len(code) if code != "0" * len(code) else "1" * len(code))
    page.click("#verify")
    expect(page.locator("#result")).to_contain_text("The code is not correct.")
    expect(page.locator("#result")).to_contain_text('"attempts_left":4')

    expect(page.locator("#send")).to_have_text("Resend code")
    expect(page.locator("#send")).to_be_enabled()
    page.click("#send")
    expect(page.locator("#countdown")).to_contain_text("Resend in")
    messages = client.get("/dev/outbox", query_string={"to": phone}).get_json()["messages"]
    assert len({m["verification_id"] for m in messages}) == 1
    assert len(messages) == 2, "the resend went to the same verification"

    page.fill("#code", code)
    page.click("#verify")
    expect(page.locator("#result")).to_have_text("verified")


def test_enrol_an_authenticator_app_and_sign_in_with_its_code(page: Page) -> None:
    page.fill("#entity", "demo-ada")
    page.click("#enrol")
    expect(page.locator("#qr")).to_be_visible()
    assert page.eval_on_selector("#qr", "img => img.complete && img.naturalWidth > 0")
    totp = pyotp.parse_uri(page.locator("#totp-uri").inner_text())

    page.fill("#totp-code", totp.now())
    page.click("#totp-submit")
    expect(page.locator("#totp-result")).to_contain_text("App confirmed")
    expect(page.locator("#enrolment")).to_be_hidden()

    # The first code is spent; the next time step's code is inside the default skew.
    page.fill("#totp-code", totp.at(time.time(), counter_offset=1))
    page.click("#totp-submit")
    expect(page.locator("#totp-result")).to_have_text("signed in with the authenticator app")
    token = json.loads(page.locator("#token").inner_text())
    assert token["payload"]["sub"] == "demo-ada"
    assert token["payload"]["factor"] == "totp"
