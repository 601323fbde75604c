"""The demo login page driven end to end in headless Chromium, against a real server thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@contextmanager
def demo_page(browser: Browser, base_url: str, init_script: str = "") -> Iterator[Page]:
    """The demo page, opened fresh (after `init_script`); any script error or CSP violation
    fails the test."""
    context = browser.new_context()
    context.set_default_timeout(5000)
    if init_script:
        context.add_init_script(init_script)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.extend(_script_errors(message)))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    response = opened.goto(base_url + "/demo")
    assert response is not None
    assert response.status == 200, "GET /demo is served in development mode"
    yield opened
    context.close()
    assert errors == []


@pytest.fixture
def page(browser: Browser, served: tuple[str, FlaskClient]) -> Iterator[Page]:
    with demo_page(browser, served[0]) as opened:
        yield opened


# The browser's WebOTP, played by the test (no SMS reaches a headless browser): each call of
# navigator.credentials.get for a one-time code is recorded, and answered when the test
# delivers a code.
RECORD_OTP_CALLS = """
window.otpCalls = [];
const getCredential = navigator.credentials.get.bind(navigator.credentials);
navigator.credentials.get = (options) => {
  if (!options || !options.otp) {
    return getCredential(options);
  }
  const call = { transport: options.otp.transport, signal: options.signal instanceof AbortSignal };
  call.aborted = false;
  window.otpCalls.push(call);
  return new Promise((resolve, reject) => {
    call.deliver = (code) => resolve({ id: "", type: "otp", code });
    options.signal.addEventListener("abort", () => {
      call.aborted = true;
      reject(options.signal.reason);
    });
  });
};
"""
WEBOTP_STAND_IN = "window.OTPCredential ??= class OTPCredential {};\n" + RECORD_OTP_CALLS


@pytest.fixture
def webotp_page(browser: Browser, served: tuple[str, FlaskClient]) -> Iterator[Page]:
    with demo_page(browser, served[0], WEBOTP_STAND_IN) as opened:
        yield opened


def otp_calls(page: Page, count: int) -> list[dict[str, Any]]:
    """The page's WebOTP calls, once there are `count` of them."""
    page.wait_for_function("count => window.otpCalls.length === count", arg=count)
    calls: list[dict[str, Any]] = page.evaluate(
        "() => window.otpCalls.map(({ transport, signal, aborted }) => "
        "({ transport, signal, aborted }))"
    )
    return calls


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


def send_to(page: Page, phone: str = "+12015550123") -> str:
    """Send a code to `phone` from the page; the number."""
    page.fill("#phone", phone)
    send_code(page)
    return phone


def test_an_sms_code_fills_the_field_through_webotp(
    webotp_page: Page, served: tuple[str, FlaskClient]
) -> None:
    page = webotp_page
    phone = send_to(page)

    assert otp_calls(page, 1) == [{"transport": ["sms"], "signal": True, "aborted": False}]
    code = outbox_code(served[1], phone)
    page.evaluate("code => window.otpCalls[0].deliver(code)", code)
    expect(page.locator("#code")).to_have_value(code)

    page.click("#verify")
    expect(page.locator("#result")).to_have_text("verified")


def test_a_resend_or_a_typed_code_stops_waiting_for_the_sms(
    webotp_page: Page, served: tuple[str, FlaskClient]
) -> None:
    page = webotp_page
    phone = send_to(page)
    otp_calls(page, 1)

    expect(page.locator("#send")).to_be_enabled()
    page.click("#send")
    first, second = otp_calls(page, 2)
    assert (first["aborted"], second["aborted"]) == (True, False)

    page.fill("#code", outbox_code(served[1], phone))
    page.click("#verify")
    expect(page.locator("#result")).to_have_text("verified")
    assert [call["aborted"] for call in otp_calls(page, 2)] == [True, True]


def test_a_browser_without_webotp_is_not_asked(
    browser: Browser, served: tuple[str, FlaskClient]
) -> None:
    without = "delete window.OTPCredential;\n" + RECORD_OTP_CALLS
    with demo_page(browser, served[0], without) as page:
        assert page.evaluate("() => 'OTPCredential' in window") is False
        send_to(page)
        assert page.evaluate("() => window.otpCalls.length") == 0
