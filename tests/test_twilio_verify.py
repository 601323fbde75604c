"""The Twilio Verify compatible API, driven by Twilio's own SDKs against a real server."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.verify.v2.service import ServiceContext
from werkzeug.serving import make_server

from app.settings import SettingsError

from .conftest import API_KEY, ROOT, outbox_code

ACCOUNT_SID = "AC" + "5a" * 16
SERVICE_SID = "VA" + "7b" * 16
SIGNUP_SERVICE_SID = "VA" + "8c" * 16
TWILIO_CONFIG = {
    "OTP_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "OTP_TWILIO_SERVICES": f"{SERVICE_SID}=login,{SIGNUP_SERVICE_SID}=signup",
}
MOBILE = "+8613800138000"
LANDLINE = "+442079460018"
OTHER_MOBILE = "+8613900139000"
THIRD_MOBILE = "+8613700137000"
VE = re.compile(r"^VE[0-9a-f]{32}$")
VL = re.compile(r"^VL[0-9a-f]{32}$")


def basic(username: str = ACCOUNT_SID, password: str = API_KEY) -> dict[str, str]:
    """The Authorization header Twilio's SDKs send."""
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
def served(make_app: Callable[..., Flask]) -> Iterator[tuple[str, Flask]]:
    """The service on a free 127.0.0.1 port, resends allowed at once."""
    app = make_app(OTP_RESEND_COOLDOWN="0", **TWILIO_CONFIG)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    server.server_close()
    thread.join(5)


def sdk_client(base_url: str, account_sid: str = ACCOUNT_SID, key: str = API_KEY) -> Client:
    """Twilio's Python SDK, unmodified but for its Verify base URL."""
    client = Client(account_sid, key)
    client.verify.base_url = base_url
    return client


@pytest.fixture
def verify(served: tuple[str, Flask]) -> ServiceContext:
    return sdk_client(served[0]).verify.v2.services(SERVICE_SID)


@pytest.fixture
def outbox(served: tuple[str, Flask]) -> FlaskClient:
    return served[1].test_client()


def refused(call: Callable[[], object]) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value


def test_the_sdk_takes_a_verification_from_create_to_approved(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    created = verify.verifications.create(to=MOBILE, channel="sms")
    assert VE.match(created.sid)
    assert (created.service_sid, created.account_sid) == (SERVICE_SID, ACCOUNT_SID)
    assert (created.to, created.channel, created.status, created.valid) == (
        MOBILE,
        "sms",
        "pending",
        False,
    )
    assert created.lookup == {
        "carrier": {
            "mobile_country_code": None,
            "type": "mobile",
            "error_code": None,
            "mobile_network_code": None,
            "name": None,
        }
    }
    assert isinstance(created.date_created, datetime)
    assert created.date_created.tzinfo == UTC
    assert abs((datetime.now(UTC) - created.date_created).total_seconds()) < 5
    [attempt] = created.send_code_attempts
    assert VL.match(attempt["attempt_sid"])
    assert attempt["channel"] == "sms"
    assert (created.amount, created.payee, created.sna) == (None, None, None)
    assert created.url.endswith(f"/v2/Services/{SERVICE_SID}/Verifications/{created.sid}")

    wrong = verify.verification_checks.create(to=MOBILE, code="000000")
    assert (wrong.sid, wrong.status, wrong.valid) == (created.sid, "pending", False)

    right = verify.verification_checks.create(to=MOBILE, code=outbox_code(outbox, MOBILE))
    assert (right.sid, right.status, right.valid) == (created.sid, "approved", True)
    assert isinstance(right.date_updated, datetime)

    fetched = verify.verifications(created.sid).fetch()
    assert (fetched.sid, fetched.status, fetched.valid) == (created.sid, "approved", True)
    assert fetched.send_code_attempts == created.send_code_attempts


def test_a_check_by_verification_sid_and_a_fetch_by_destination(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    created = verify.verifications.create(to=MOBILE, channel="sms")
    assert verify.verifications(MOBILE).fetch().sid == created.sid
    code = outbox_code(outbox, MOBILE)
    checked = verify.verification_checks.create(verification_sid=created.sid, code=code)
    assert checked.status == "approved"


def test_a_canceled_verification_cannot_be_checked(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    created = verify.verifications.create(to=MOBILE, channel="sms")
    canceled = verify.verifications(created.sid).update(status="canceled")
    assert (canceled.sid, canceled.status, canceled.valid) == (created.sid, "canceled", False)
    code = outbox_code(outbox, MOBILE)
    error = refused(lambda: verify.verification_checks.create(to=MOBILE, code=code))
    assert (error.status, error.code) == (404, 20404)
    assert verify.verifications(created.sid).fetch().status == "canceled"


def test_a_second_create_while_pending_sends_the_same_code_under_the_same_sid(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    first = verify.verifications.create(to=MOBILE, channel="sms")
    code = outbox_code(outbox, MOBILE)
    again = verify.verifications.create(to=MOBILE, channel="call")
    assert again.sid == first.sid
    assert again.channel == "call"
    assert [a["channel"] for a in again.send_code_attempts] == ["sms", "call"]
    assert len({a["attempt_sid"] for a in again.send_code_attempts}) == 2
    assert outbox_code(outbox, MOBILE) == code
    assert verify.verification_checks.create(to=MOBILE, code=code).status == "approved"
    # Approved, the verification is over: the next create starts a new one.
    assert verify.verifications.create(to=MOBILE, channel="sms").sid != first.sid


def test_checks_past_the_limit_answer_60202(verify: ServiceContext) -> None:
    created = verify.verifications.create(to=MOBILE, channel="sms")
    statuses = [
        verify.verification_checks.create(to=MOBILE, code="000000").status for _ in range(5)
    ]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    error = refused(lambda: verify.verification_checks.create(to=MOBILE, code="000000"))
    assert (error.status, error.code) == (429, 60202)
    assert verify.verifications(created.sid).fetch().status == "max_attempts_reached"
    # As at Twilio, no new verification until this one expires.
    error = refused(lambda: verify.verifications.create(to=MOBILE, channel="sms"))
    assert (error.status, error.code) == (429, 60202)


@pytest.mark.parametrize(
    ("account_sid", "key"),
    [(ACCOUNT_SID, "not-the-key-0123456789abcdef"), ("AC" + "6b" * 16, API_KEY)],
)
def test_wrong_credentials_answer_20003(
    served: tuple[str, Flask], account_sid: str, key: str
) -> None:
    client = sdk_client(served[0], account_sid, key)
    error = refused(
        lambda: client.verify.v2.services(SERVICE_SID).verifications.create(
            to=MOBILE, channel="sms"
        )
    )
    assert (error.status, error.code) == (401, 20003)


def test_an_unknown_service_answers_20404(served: tuple[str, Flask]) -> None:
    service = sdk_client(served[0]).verify.v2.services("VA" + "9d" * 16)
    error = refused(lambda: service.verifications.create(to=MOBILE, channel="sms"))
    assert (error.status, error.code) == (404, 20404)


def test_the_backend_may_approve_without_a_code(verify: ServiceContext) -> None:
    created = verify.verifications.create(to=MOBILE, channel="sms")
    approved = verify.verifications(created.sid).update(status="approved")
    assert (approved.status, approved.valid) == ("approved", True)
    error = refused(lambda: verify.verification_checks.create(to=MOBILE, code="000000"))
    assert (error.status, error.code) == (404, 20404)
    error = refused(lambda: verify.verifications(created.sid).update(status="canceled"))
    assert (error.status, error.code) == (404, 20404)


def test_each_service_is_a_purpose_and_a_sid_tells_nothing(
    served: tuple[str, Flask], verify: ServiceContext
) -> None:
    signup = sdk_client(served[0]).verify.v2.services(SIGNUP_SERVICE_SID)
    login_sid = verify.verifications.create(to=MOBILE, channel="sms").sid
    signup_sid = signup.verifications.create(to=MOBILE, channel="sms").sid
    assert login_sid != signup_sid
    error = refused(lambda: signup.verifications(login_sid).fetch())
    assert (error.status, error.code) == (404, 20404)
    redis = served[1].extensions["otp"].redis
    tags = {key.decode().split("}")[0][5:] for key in redis.scan_iter("otp:{*}:v:*")}
    assert len(tags) == 1, "one destination, one hash tag"
    assert not any(tag in sid for tag in tags for sid in (login_sid, signup_sid))
    assert signup.verifications(MOBILE).fetch().sid == signup_sid


def test_a_landline_takes_a_call_but_no_sms(verify: ServiceContext) -> None:
    error = refused(lambda: verify.verifications.create(to=LANDLINE, channel="sms"))
    assert (error.status, error.code) == (403, 60205)
    called = verify.verifications.create(to=LANDLINE, channel="call")
    assert called.channel == "call"
    assert called.lookup["carrier"]["type"] == "landline"


def test_an_email_verification(verify: ServiceContext, outbox: FlaskClient) -> None:
    created = verify.verifications.create(to="Ada@Example.com", channel="email")
    assert (created.to, created.channel, created.lookup) == (
        "ada@example.com",
        "email",
        {"carrier": None},
    )
    code = outbox_code(outbox, "ada@example.com")
    checked = verify.verification_checks.create(to="ada@example.com", code=code)
    assert checked.status == "approved"


def test_a_friendly_name_and_an_app_hash_shape_the_sms(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    texting = {"custom_friendly_name": "Acme Bank", "app_hash": "FA+9qCX9VSu"}

    first = verify.verifications.create(to=MOBILE, channel="sms", **texting)
    again = verify.verifications.create(to=MOBILE, channel="sms", **texting)

    assert again.sid == first.sid
    code = outbox_code(outbox, MOBILE)
    expected = f"{code} is your Acme Bank login code. It expires in 5 minutes.\nFA+9qCX9VSu"
    messages = outbox.get("/dev/outbox", query_string={"to": MOBILE}).get_json()["messages"]
    assert [message["text"] for message in messages] == [expected, expected]
    checked = verify.verification_checks.create(to=MOBILE, code=code)
    assert checked.status == "approved"


def test_a_friendly_name_names_the_app_on_every_channel(
    verify: ServiceContext, outbox: FlaskClient
) -> None:
    verify.verifications.create(
        to=LANDLINE, channel="call", custom_friendly_name="Acme", app_hash="FA+9qCX9VSu"
    )

    [message] = outbox.get("/dev/outbox", query_string={"to": LANDLINE}).get_json()["messages"]
    assert message["channel"] == "voice"
    assert message["text"].endswith(" is your Acme login code. It expires in 5 minutes.")


@pytest.mark.parametrize(
    "extra",
    [
        {"custom_code": "1234"},
        {"rate_limits": {"ip": "198.51.100.7"}},
        {"amount": "10.00", "payee": "Acme"},
        {"custom_friendly_name": "A" * 31},
        {"custom_friendly_name": " Acme"},
        {"custom_friendly_name": "x @evil.example #"},
        {"custom_friendly_name": "Acme\nBank"},
        {"app_hash": "FA+9qCX9VS"},
        {"channel": "sna"},
        {"to": "+86138001"},
        {"locale": "not a locale"},
    ],
)
def test_what_this_service_does_not_offer_is_refused_with_60200(
    verify: ServiceContext, extra: dict[str, Any]
) -> None:
    error = refused(
        lambda: verify.verifications.create(**{"to": MOBILE, "channel": "sms", **extra})
    )
    assert (error.status, error.code) == (400, 60200)
    assert error.msg


def post(client: FlaskClient, path: str, form: dict[str, str], **headers: str) -> Any:
    return client.post(f"/v2/Services/{SERVICE_SID}/{path}", data=form, headers=basic() | headers)


@pytest.fixture
def twilio_app(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    def make(**overrides: str) -> FlaskClient:
        return make_app(**TWILIO_CONFIG, **overrides).test_client()

    return make


@pytest.mark.parametrize(
    ("overrides", "sends", "code"),
    [
        ({"OTP_RESEND_COOLDOWN": "30"}, 2, 60212),
        ({"OTP_RESEND_COOLDOWN": "0", "OTP_MAX_SENDS": "2"}, 3, 60203),
        ({"OTP_RESEND_COOLDOWN": "0", "OTP_LIMIT_PHONE_HOURLY": "1"}, 2, 20429),
    ],
)
def test_send_limits_answer_twilio_codes(
    twilio_app: Callable[..., FlaskClient], overrides: dict[str, str], sends: int, code: int
) -> None:
    client = twilio_app(**overrides)
    answers = [
        post(client, "Verifications", {"To": MOBILE, "Channel": "sms"}) for _ in range(sends)
    ]
    assert [a.status_code for a in answers] == [201] * (sends - 1) + [429]
    body = answers[-1].get_json()
    assert body == {
        "code": code,
        "message": body["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 429,
    }
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_the_approval_token_names_the_sid(
    twilio_app: Callable[..., FlaskClient],
) -> None:
    client = twilio_app(OTP_TEST_NUMBERS=f"{MOBILE}=123456")
    sid = post(client, "Verifications", {"To": MOBILE, "Channel": "sms"}).get_json()["sid"]
    checked = post(client, "VerificationCheck", {"To": MOBILE, "Code": "123456"}).get_json()
    assert checked["status"] == "approved"
    [key] = client.get("/.well-known/jwks.json").get_json()["keys"]
    claims = jwt.decode(
        checked["otp_token"], jwt.PyJWK(key).key, algorithms=["EdDSA"], issuer="otp-service"
    )
    assert (claims["sub"], claims["purpose"], claims["vid"]) == (MOBILE, "login", sid)


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [
        (
            "Verifications",
            {"To": MOBILE, "Channel": "sms"},
            {"Authorization": "Bearer x"},
            401,
            20003,
        ),
        ("Verifications", {"To": MOBILE}, {}, 400, 60200),
        ("Verifications", {"To": MOBILE, "Channel": "fax"}, {}, 400, 60200),
        ("VerificationCheck", {"Code": "123456"}, {}, 400, 60221),
        ("VerificationCheck", {"To": MOBILE, "Code": "12"}, {}, 400, 60200),
        ("VerificationCheck", {"VerificationSid": "VE" + "0" * 32, "Code": "1234"}, {}, 404, 20404),
        ("Verifications/" + MOBILE, {"Status": "paused"}, {}, 400, 60200),
    ],
)
def test_bad_calls_answer_in_twilios_shape(
    twilio_app: Callable[..., FlaskClient],
    path: str,
    body: dict[str, str],
    headers: dict[str, str],
    status: int,
    code: int,
) -> None:
    answer = post(twilio_app(), path, body, **headers)
    assert (answer.status_code, answer.get_json()["code"]) == (status, code)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_parameters_come_form_encoded_once_each(twilio_app: Callable[..., FlaskClient]) -> None:
    client = twilio_app()
    path = f"/v2/Services/{SERVICE_SID}/Verifications"
    as_json = client.post(path, json={"To": MOBILE, "Channel": "sms"}, headers=basic())
    assert (as_json.status_code, as_json.get_json()["code"]) == (400, 60200)
    twice = client.post(
        path,
        data="To=%2B8613800138000&To=%2B8613900139000&Channel=sms",
        headers=basic(),
        content_type="application/x-www-form-urlencoded",
    )
    assert (twice.status_code, twice.get_json()["code"]) == (400, 60200)


def test_the_api_is_off_without_an_account_sid(client: FlaskClient) -> None:
    answer = post(client, "Verifications", {"To": MOBILE, "Channel": "sms"})
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_no_browser_may_call_it(make_app: Callable[..., Flask]) -> None:
    client = make_app(OTP_CORS_ORIGINS="https://login.example.com", **TWILIO_CONFIG).test_client()
    origin = {"Origin": "https://login.example.com"}
    answer = post(client, "Verifications", {"To": MOBILE, "Channel": "sms"}, **origin)
    assert answer.status_code == 201
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"OTP_TWILIO_ACCOUNT_SID": "AC123"}, "OTP_TWILIO_ACCOUNT_SID='AC123'"),
        ({"OTP_TWILIO_SERVICES": f"{SERVICE_SID}=Log In"}, "the purpose must be"),
        ({"OTP_TWILIO_SERVICES": "VA12=login"}, "is not VA followed by 32 hex digits"),
        (
            {"OTP_TWILIO_SERVICES": f"{SERVICE_SID}=login,{SIGNUP_SERVICE_SID}=login"},
            "each service and each purpose may appear once",
        ),
        ({"OTP_TWILIO_SERVICES": ""}, "the Twilio Verify API needs OTP_TWILIO_SERVICES"),
        ({"OTP_API_KEYS": ""}, "the Twilio Verify API needs OTP_API_KEYS"),
    ],
)
def test_the_settings_are_checked_at_start(
    make_app: Callable[..., Flask], overrides: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(problem)):
        make_app(**{**TWILIO_CONFIG, **overrides})


def _fits(document: dict[str, Any], path: str, method: str, answer: Any) -> None:
    """The answer's body fits the schema the document gives for its status."""
    documented = document["paths"][path][method]["responses"][str(answer.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    rooted = {**schema, "components": document["components"]}
    validator = Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = [error.message for error in validator.iter_errors(answer.get_json())]
    assert not problems, (path, answer.status_code, problems)
    if answer.status_code >= 400:
        assert str(answer.get_json()["code"]) in documented["description"]


def test_real_answers_fit_the_document(twilio_app: Callable[..., FlaskClient]) -> None:
    client = twilio_app(OTP_TEST_NUMBERS=f"{MOBILE}=123456")
    document = client.get("/openapi.json").get_json()
    create = "/v2/Services/{service_sid}/Verifications"
    check = "/v2/Services/{service_sid}/VerificationCheck"
    one = create + "/{sid}"
    sent = post(client, "Verifications", {"To": MOBILE, "Channel": "sms"})
    _fits(document, create, "post", sent)
    _fits(document, create, "post", post(client, "Verifications", {"To": MOBILE, "Channel": "sms"}))
    _fits(
        document, create, "post", post(client, "Verifications", {"To": LANDLINE, "Channel": "sms"})
    )
    _fits(
        document, check, "post", post(client, "VerificationCheck", {"To": MOBILE, "Code": "0000"})
    )
    _fits(
        document,
        one,
        "get",
        client.get(f"/v2/Services/{SERVICE_SID}/Verifications/{MOBILE}", headers=basic()),
    )
    _fits(
        document, check, "post", post(client, "VerificationCheck", {"To": MOBILE, "Code": "123456"})
    )
    _fits(
        document,
        one,
        "post",
        post(client, f"Verifications/{sent.get_json()['sid']}", {"Status": "canceled"}),
    )
    _fits(document, one, "get", client.get(f"/v2/Services/{SERVICE_SID}/Verifications/{MOBILE}"))


# Twilio's Node.js SDK, installed from npm once into .venv (ignored by git, rebuilt with it).
NODE_TWILIO = "twilio@6"
NODE_MODULES = ROOT / ".venv" / "node-twilio" / "node_modules"
NODE_SCRIPT = ROOT / "tests" / "twilio_verify_node.cjs"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """A node_modules holding the npm `twilio` package; skips where node or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to drive Twilio's Node.js SDK")
    if not (NODE_MODULES / "twilio" / "package.json").exists():
        command = [npm, "install", "--prefix", str(NODE_MODULES.parent), "--no-audit"]
        command += ["--no-fund", "--no-save", "--silent", NODE_TWILIO]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.skip(f"npm could not install {NODE_TWILIO}: {done.stderr.strip()[-400:]}")
    return NODE_MODULES


def test_the_node_sdk_takes_the_same_flow(served: tuple[str, Flask], node_modules: Path) -> None:
    environment = {
        **os.environ,
        "NODE_PATH": str(node_modules),
        "OTP_BASE_URL": served[0],
        "OTP_ACCOUNT_SID": ACCOUNT_SID,
        "OTP_API_KEY": API_KEY,
        "OTP_SERVICE_SID": SERVICE_SID,
        "OTP_PHONES": ",".join((MOBILE, OTHER_MOBILE, THIRD_MOBILE)),
    }
    done = subprocess.run(
        ["node", str(NODE_SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    created = seen["created"]
    assert VE.match(created["sid"])
    assert (created["serviceSid"], created["accountSid"]) == (SERVICE_SID, ACCOUNT_SID)
    assert (created["status"], created["valid"], created["channel"]) == ("pending", False, "sms")
    assert (created["lineType"], created["sends"], created["datesAreDates"]) == ("mobile", 1, True)
    assert (seen["resent"]["sid"], seen["resent"]["sends"]) == (created["sid"], 2)
    assert (seen["wrong"]["status"], seen["wrong"]["valid"]) == ("pending", False)
    assert (seen["right"]["status"], seen["right"]["valid"]) == ("approved", True)
    assert seen["right"]["datesAreDates"]
    assert (seen["fetched"]["sid"], seen["fetched"]["status"]) == (created["sid"], "approved")
    assert (seen["canceled"]["status"], seen["canceled"]["channel"]) == ("canceled", "call")
    assert seen["checkCanceled"] == {"status": 404, "code": 20404}
    assert seen["checks"] == ["pending"] * 4 + ["max_attempts_reached"]
    assert seen["pastTheLimit"] == {"status": 429, "code": 60202}
    assert seen["badKey"] == {"status": 401, "code": 20003}
    assert seen["unknownService"] == {"status": 404, "code": 20404}
