"""The README and docs/ stay true: short, linked, and in step with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from app.errors import STATUS
from app.settings import ENV_NAMES

from .conftest import outbox_code

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# Pages written alongside this documentation; a link to one counts until it lands.
PENDING = {ROOT / "docs" / name for name in ("scaling.md",)}
FENCED = re.compile(r"^```.*?^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_the_readme_stays_short() -> None:
    assert len(README.encode()) <= 15_000


def test_the_annotated_routing_example_is_the_shipped_file() -> None:
    example = (ROOT / "routing.example.yaml").read_text()
    assert f"```yaml\n{example}```" in (ROOT / "docs" / "routing.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    gunicorn_conf = (ROOT / "gunicorn.conf.py").read_text()
    read_by_gunicorn = re.findall(r"environ\.(?:get|setdefault)\(\s*\"(\w+)\"", gunicorn_conf)
    assert "WEB_CONCURRENCY" in read_by_gunicorn
    for name in [
        *ENV_NAMES.values(),
        *read_by_gunicorn,
        "OTP_ENV",
        "REDIS_URL",
        "OTP_DATA_DIR",
        "OTP_SECRET",
        "OTP_SIGNING_KEY",
    ]:
        assert f"| `{name}` |" in CONFIGURATION, name


def test_the_readme_table_is_a_part_of_the_full_one() -> None:
    in_readme = re.findall(r"^\| `([A-Z_]+)` \|", README, re.MULTILINE)
    assert {"OTP_SECRET", "OTP_SIGNING_KEY", "OTP_ROUTING_FILE", "REDIS_URL"} <= set(in_readme)
    for name in in_readme:
        assert f"| `{name}` |" in CONFIGURATION, name


def test_every_error_code_is_in_the_error_table_with_its_status() -> None:
    for code, status in STATUS.items():
        row = re.search(rf"^\| (`[a-z_]+`, )*`{code}`(, `[a-z_]+`)* \| ([^|]*) \|", README, re.M)
        assert row, code
        assert str(status) in row.group(3), code


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    for page in PAGES:
        for target in LINK.findall(FENCED.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if linked in PENDING and not linked.exists():
                continue
            assert linked.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in _anchors(linked), f"{page.name}: {target}"


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    headings = re.findall(r"^#+ (.+)$", FENCED.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_docs_page_is_linked_from_the_readme() -> None:
    for page in PAGES[1:]:
        assert f"({page.relative_to(ROOT)})" in README, page


def test_the_readme_token_check_accepts_a_token_of_the_service(
    client: FlaskClient, httpserver: HTTPServer
) -> None:
    """The README's Python snippet, run as written against the service's JWKS."""
    phone = "+4915123456789"
    started = client.post("/otp/request", json={"phone": phone}).get_json()
    code = outbox_code(client, phone)
    token = client.post("/otp/verify", json={"id": started["id"], "code": code}).get_json()
    jwks = client.get("/.well-known/jwks.json").get_json()
    httpserver.expect_request("/.well-known/jwks.json").respond_with_json(jwks)
    snippet = re.search(r"^```python\n(.*?)^```$", README, re.MULTILINE | re.DOTALL)
    assert snippet
    source = snippet.group(1).replace("https://otp.example.com", httpserver.url_for("")[:-1])
    namespace = {"token": token["token"]}
    exec(source, namespace)  # noqa: S102 - the README's own example
    assert (namespace["phone"], namespace["purpose"]) == (phone, "login")


def test_the_quick_start_commands_exist() -> None:
    assert "sh scripts/serve" in README
    assert "sh scripts/test" in README
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
