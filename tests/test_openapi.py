"""The OpenAPI document: valid, complete, its examples and the real answers fit its schemas."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.api import openapi, responses
from app.api.schemas import CodeRequestSchema
from app.errors import STATUS

from .conftest import TRUSTED, outbox_code
from .test_twilio_verify import TWILIO_CONFIG

PHONE = "+8613800138000"
TEST_NUMBER = "+15005550006"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(OTP_TEST_NUMBERS=f"{TEST_NUMBER}=123456", **TWILIO_CONFIG)


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    loaded: dict[str, Any] = answer.get_json()
    return loaded


def _templates(app: Flask) -> set[tuple[str, str]]:
    """(path template, method) of every rule of the app but static files."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
            found |= {(path, method.lower()) for method in methods}
    return found


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def _problems(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` does not fit `schema`, whose $refs point into the document's components."""
    # The components ride along so that "#/components/schemas/..." resolves from the root.
    rooted = {**schema, "components": document["components"]}
    validator = Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [error.message for error in validator.iter_errors(value)]


def _examples(node: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    """(schema, example) of every media type, parameter and header in the document."""
    if isinstance(node, dict):
        if "schema" in node and "example" in node:
            yield node["schema"], node["example"]
        if "schema" in node and "examples" in node:
            yield from ((node["schema"], named["value"]) for named in node["examples"].values())
        for value in node.values():
            yield from _examples(value)
    elif isinstance(node, list):
        for value in node:
            yield from _examples(value)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_the_app_is_described(app: Flask, document: dict[str, Any]) -> None:
    routes = _templates(app)
    assert ("/otp/{verification_id}", "get") in routes
    for path, method in routes:
        operation = document["paths"][path][method]
        assert "x-undescribed" not in operation, (method, path)
        assert operation["summary"], (method, path)
        assert {"200", "201", "202"} & set(operation["responses"]), (method, path)


def test_every_route_is_described_and_no_description_is_stale(
    app: Flask, document: dict[str, Any]
) -> None:
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert documented == _templates(app) == set(openapi.OPERATIONS)
    assert not [op for _, _, op in _operations(document) if "x-undescribed" in op]


def test_an_undescribed_route_is_still_listed_and_flagged(app: Flask) -> None:
    app.add_url_rule("/extra/<int:n>", "extra", lambda n: "", methods=["PUT"])
    operation = openapi.build(app)["paths"]["/extra/{n}"]["put"]
    assert operation["x-undescribed"] is True


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for schema, example in _examples(document["paths"]):
        problems = _problems(document, schema, example)
        assert not problems, (example, problems)
        checked += 1
    assert checked > 50


def test_request_bodies_are_the_endpoints_own_schemas(document: dict[str, Any]) -> None:
    for path, name in (("/otp/request", "CodeRequest"), ("/otp/verify", "Verify")):
        body = document["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{name}"
        }
    fields = document["components"]["schemas"]["CodeRequest"]["properties"]
    assert set(fields) == set(CodeRequestSchema().fields)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"phone": PHONE, "purpose": "signup", "locale": "zh-CN"}, True),
        ({"phone": PHONE, "extra": 1}, False),
        ({"phone": PHONE, "channel": "fax"}, False),
        ({"phone": PHONE, "purpose": "Sign up"}, False),
        ({"phone": PHONE, "app_hash": "FA+9qCX9VSu"}, True),
        ({"phone": PHONE, "app_hash": "FA+9qCX9VS"}, False),
    ],
)
def test_the_documented_request_body_agrees_with_the_endpoint(
    client: FlaskClient, document: dict[str, Any], body: dict[str, Any], valid: bool
) -> None:
    content = document["paths"]["/otp/request"]["post"]["requestBody"]["content"]
    problems = _problems(document, content["application/json"]["schema"], body)
    assert (not problems) == valid
    answer = client.post("/otp/request", json=body)
    assert (answer.status_code == 202) == valid


def test_every_body_and_main_answer_has_an_example(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        bodies = [operation.get("requestBody", {})] + [
            answer for status, answer in operation["responses"].items() if status < "300"
        ]
        for body in bodies:
            for media in body.get("content", {}).values():
                assert "example" in media or media.get("examples"), (method, path)


def test_every_error_code_has_an_example_and_an_operation(
    document: dict[str, Any],
) -> None:
    listed = {
        example["value"]["error"]["code"]
        for _, _, operation in _operations(document)
        for status, answer in operation["responses"].items()
        if status >= "400"
        for example in answer["content"]["application/json"]["examples"].values()
        if "error" in example["value"]  # the /v2 API answers in Twilio's shape
    }
    assert {body["error"]["code"] for _, body in responses.ERROR_EXAMPLES.values()} == set(STATUS)
    # 405 is the answer to a method an operation does not have: the overview says so.
    assert listed == set(STATUS) - {"method_not_allowed"}
    assert "method_not_allowed" in document["info"]["description"]


def _check(document: dict[str, Any], path: str, method: str, answer: Any) -> None:
    """The answer's body fits the schema documented for its status; an error's code is listed."""
    documented = document["paths"][path][method]["responses"][str(answer.status_code)]
    body = answer.get_json()
    schema = documented["content"]["application/json"]["schema"]
    problems = _problems(document, schema, body)
    assert not problems, (path, answer.status_code, body, problems)
    if answer.status_code >= 400:
        assert body["error"]["code"] in documented["description"]
        if "Retry-After" in answer.headers:
            assert "Retry-After" in documented["headers"]


def test_real_answers_fit_the_document(client: FlaskClient, document: dict[str, Any]) -> None:
    sent = client.post("/otp/request", json={"phone": PHONE})
    _check(document, "/otp/request", "post", sent)
    verification_id = sent.get_json()["id"]
    _check(document, "/otp/request", "post", client.post("/otp/request", json={"phone": PHONE}))
    _check(document, "/otp/request", "post", client.post("/otp/request", data="x"))
    shown = client.get(f"/otp/{verification_id}")
    _check(document, "/otp/{verification_id}", "get", shown)
    _check(document, "/dev/outbox", "get", client.get("/dev/outbox", query_string={"to": PHONE}))
    wrong = client.post("/otp/verify", json={"id": verification_id, "code": "0000000"})
    assert wrong.get_json()["error"]["code"] == "invalid_code"
    _check(document, "/otp/verify", "post", wrong)
    code = outbox_code(client, PHONE)
    approved = client.post("/otp/verify", json={"id": verification_id, "code": code})
    assert approved.status_code == 200
    _check(document, "/otp/verify", "post", approved)
    _check(document, "/otp/{verification_id}", "get", client.get(f"/otp/{verification_id}"))


def test_more_real_answers_fit_the_document(client: FlaskClient, document: dict[str, Any]) -> None:
    test_number = client.post("/otp/request", json={"phone": TEST_NUMBER})
    assert test_number.get_json()["route"]["test_number"] is True
    _check(document, "/otp/request", "post", test_number)
    held = test_number.get_json()["id"]
    trusted = client.get(f"/otp/{held}", headers=TRUSTED)
    assert "attempts" in trusted.get_json()
    _check(document, "/otp/{verification_id}", "get", trusted)
    _check(document, "/otp/{verification_id}/resend", "post", client.post(f"/otp/{held}/resend"))
    _check(document, "/otp/{verification_id}/cancel", "post", client.post(f"/otp/{held}/cancel"))
    cancelled = client.post(f"/otp/{held}/cancel", headers=TRUSTED)
    _check(document, "/otp/{verification_id}/cancel", "post", cancelled)
    _check(document, "/otp/verify", "post", client.post("/otp/verify", json={"code": "12"}))
    for path in ("/.well-known/jwks.json", "/healthz", "/readyz"):
        _check(document, path, "get", client.get(path))


def test_every_operation_says_who_may_call_it(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    callers = {(path, method): op.get("x-caller") for path, method, op in _operations(document)}
    assert callers[("/otp/request", "post")] == "public"
    assert callers[("/otp/verify", "post")] == "public"
    assert callers[("/otp/{verification_id}", "get")] == "public"
    assert callers[("/otp/{verification_id}/resend", "post")] == "public"
    assert callers[("/otp/{verification_id}/cancel", "post")] == "trusted"
    for (path, method), caller in callers.items():
        operation = document["paths"][path][method]
        if caller == "trusted":
            scheme = "twilioBasic" if path.startswith("/v2/") else "apiKey"
            assert operation["security"] == [{scheme: []}]
        elif caller == "public":
            assert operation["security"] == [{}, {"apiKey": []}]
    headers = [p["name"] for p in document["paths"]["/otp/request"]["post"]["parameters"]]
    assert "Idempotency-Key" in headers


def test_the_document_is_built_once_per_app(app: Flask) -> None:
    assert openapi.spec_for(app) is openapi.spec_for(app)


def test_docs_page_renders_the_document_without_outside_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '"/openapi.json"' in html
    assert not re.search(r"https?://", html)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'; connect-src 'self';" in policy
    assert "unsafe-inline" not in policy
    for code in re.findall(r"<(?:script|style)>(.*?)</(?:script|style)>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
