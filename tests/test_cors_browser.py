"""A login page on another origin calls the service from real Chromium: allowed, or blocked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from werkzeug import Request, Response
from werkzeug.serving import make_server

from .conftest import free_port
from .test_demo_browser import browser  # noqa: F401 - the shared Chromium fixture

try:
    from playwright.sync_api import Browser, expect
except ImportError:  # test_demo_browser skipped the module already
    pytest.skip("playwright is missing", allow_module_level=True)

PHONE = "+8613800138000"

# A page of another origin: asks for a code, reads it from the development outbox (as a test
# user would read an SMS), checks it, and writes what happened.
PAGE = """<!doctype html>
<title>login</title>
<p id="result">running</p>
<script>
const otp = "%(service)s";
async function post(path, body) {
  const response = await fetch(otp + path, {
    method: "POST",
    headers: {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()},
    body: JSON.stringify(body),
  });
  return {status: response.status, data: await response.json()};
}
(async () => {
  try {
    const asked = await post("/otp/request", {phone: "%(phone)s"});
    const outbox = await fetch(otp + "/dev/outbox?to=" + encodeURIComponent("%(phone)s"));
    const text = (await outbox.json()).messages[0].text;
    const code = text.match(/\\b\\d{6}\\b/)[0];
    const checked = await post("/otp/verify", {id: asked.data.id, code});
    document.getElementById("result").textContent =
      `${asked.status} ${checked.status} ${checked.data.status}`;
  } catch (failure) {
    document.getElementById("result").textContent = `blocked: ${failure.message}`;
  }
})();
</script>
"""


def _serve(app: Callable[..., object], port: int) -> Iterator[str]:
    server = make_server("127.0.0.1", port, app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def origins(make_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    """The service, allowing one page origin; that page's origin and another's."""
    allowed_port, other_port, service_port = free_port(), free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    service = make_app(OTP_CORS_ORIGINS=allowed)
    page = PAGE % {"service": f"http://127.0.0.1:{service_port}", "phone": PHONE}

    @Request.application
    def login_page(_: Request) -> Response:
        return Response(page, mimetype="text/html")

    servers = [_serve(service, service_port), _serve(login_page, allowed_port)]
    servers.append(_serve(login_page, other_port))
    urls = [next(server) for server in servers]
    yield urls[1], urls[2]
    for server in servers:
        next(server, None)


def test_an_allowed_origin_runs_the_whole_flow_and_another_is_blocked(
    browser: Browser,  # noqa: F811
    origins: tuple[str, str],
) -> None:
    allowed, other = origins
    context = browser.new_context()
    context.set_default_timeout(10000)
    page = context.new_page()
    page.goto(allowed + "/")
    expect(page.locator("#result")).to_have_text("202 200 approved")
    blocked = context.new_page()
    blocked.goto(other + "/")
    expect(blocked.locator("#result")).to_contain_text("blocked: Failed to fetch")
    context.close()
