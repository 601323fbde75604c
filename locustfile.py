"""Load test of the OTP service: people logging in, and clients abusing the endpoints.

    locust -f locustfile.py --headless -u 20 -r 5 -t 30s --host http://127.0.0.1:8000

Codes are read from the development outbox (GET /dev/outbox). Against a deployment, set
LOCUST_TEST_NUMBERS (comma-separated E.164) and LOCUST_TEST_CODE to numbers the server has in
OTP_TEST_NUMBERS with that code: the server then sends nothing, and a user stops the whole run
if the server answers that a number is not a test number.
"""

from __future__ import annotations

import os
import random
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import gevent
import jwt
import phonenumbers
from locust import HttpUser, between, task
from locust.clients import ResponseContextManager
from locust.exception import RescheduleTask, StopUser
from phonenumbers import PhoneNumberType

TEST_CODE = os.environ.get("LOCUST_TEST_CODE", "").strip()
TEST_NUMBERS = [n.strip() for n in os.environ.get("LOCUST_TEST_NUMBERS", "").split(",")]
CODE_IN_TEXT = re.compile(r"\b(\d{4,10})\b")
SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
FLOOD_SIZE = 8


def _sms_capable(e164: str) -> bool:
    number = phonenumbers.parse(e164)
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in SMS_CAPABLE


def fictional_numbers() -> list[str]:
    """North American NXX-555-0100..0199 numbers, reserved for fiction: no phone rings.

    Only area codes in which libphonenumber takes the block as valid and SMS-capable (424 of
    them, 42,400 numbers); checking each block's ends keeps start-up under 0.1 s.
    """
    numbers: list[str] = []
    for area in range(200, 1000):
        block = [f"+1{area}555{line:04d}" for line in range(100, 200)]
        if _sms_capable(block[0]) and _sms_capable(block[-1]):
            numbers += block
    return numbers


class NumberPool:
    """Numbers lent to one user at a time, least recently used first.

    A number is never in two flows at once: a second request for a pending number would be a
    resend, refused during its cooldown, which is not what the realistic flow measures.
    """

    def __init__(self, numbers: list[str]) -> None:
        self._free = deque(numbers)
        # Another run minutes ago may have left verifications pending on its first numbers.
        self._free.rotate(random.randrange(len(numbers)))

    @contextmanager
    def lend(self) -> Iterator[str | None]:
        number = self._free.popleft() if self._free else None
        try:
            yield number
        finally:
            if number is not None:
                self._free.append(number)


def _pool() -> NumberPool:
    if not TEST_CODE:
        return NumberPool(fictional_numbers())
    numbers = [n for n in TEST_NUMBERS if n]
    if not numbers:
        raise SystemExit("LOCUST_TEST_CODE needs LOCUST_TEST_NUMBERS: the server's test numbers")
    return NumberPool(numbers)


POOL = _pool()


def wrong_code(code: str) -> str:
    """A code of the same length that is certainly not `code`."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


class OtpUser(HttpUser):
    """What both kinds of user do: start a verification, learn its code, clean up."""

    abstract = True

    def on_start(self) -> None:
        self.pending: str | None = None

    @contextmanager
    def number(self) -> Iterator[str]:
        """A number for one flow; a verification the flow leaves pending is cancelled."""
        with POOL.lend() as number:
            if number is None:
                self._no_free_number()
            try:
                yield number
            finally:
                self._cancel_pending()

    def _no_free_number(self) -> NoReturn:
        """Record the shortage as a failure and skip this flow."""
        self.environment.events.request.fire(
            request_type="POOL",
            name="free number",
            response_time=0,
            response_length=0,
            exception=RuntimeError("more concurrent flows than LOCUST_TEST_NUMBERS"),
        )
        raise RescheduleTask()

    def _cancel_pending(self) -> None:
        if self.pending is None:
            return
        with self.client.post(
            f"/otp/{self.pending}/cancel", name="/otp/[id]/cancel", catch_response=True
        ) as response:
            # 404: the verification already ended (burned by wrong codes, or expired).
            expect_refusal(response, {200, 404})
        self.pending = None

    def request_code(self, number: str, name: str = "/otp/request") -> str | None:
        """POST /otp/request; the verification id, or None after recording why not."""
        with self.client.post(
            "/otp/request", json={"phone": number}, name=name, catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            self.pending = str(body["id"])
            if TEST_CODE and not body["route"].get("test_number"):
                problem = f"{number} is not a test number on the server: stopping the run"
                response.failure(problem)
                # From another greenlet: quit() kills every user's, this one's included.
                gevent.spawn(self.environment.runner.quit)
                raise StopUser()
            return self.pending

    def code_for(self, number: str, verification_id: str) -> str | None:
        """The fixed test code, or the code in the outbox message of this verification."""
        if TEST_CODE:
            return TEST_CODE
        with self.client.get(
            "/dev/outbox", params={"to": number}, name="/dev/outbox", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: the outbox is development-only")
                return None
            for message in response.json()["messages"]:
                found = CODE_IN_TEXT.search(message["text"])
                if message.get("verification_id") == verification_id and found:
                    return found.group(1)
            response.failure(f"no outbox message for verification {verification_id}")
            return None

    def start_and_read(self, number: str, name: str = "/otp/request") -> tuple[str, str] | None:
        """A new verification on `number` and its code, or None after recording why not."""
        verification_id = self.request_code(number, name)
        code = verification_id and self.code_for(number, verification_id)
        return (verification_id, code) if verification_id and code else None


class LoginUser(OtpUser):
    """A person signing in: asks for a code, types it, and their backend checks the token."""

    weight = 9
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        jwks = self.client.get("/.well-known/jwks.json", name="/.well-known/jwks.json").json()
        self.keys = jwt.PyJWKSet.from_dict(jwks)

    @task
    def log_in(self) -> None:
        with self.number() as number:
            started = self.start_and_read(number)
            if started:
                self.verify(number, *started)

    def verify(self, number: str, verification_id: str, code: str) -> None:
        with self.client.post(
            "/otp/verify",
            json={"id": verification_id, "code": code},
            name="/otp/verify",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            self.pending = None
            problem = self.token_problem(response.json()["token"], number, verification_id)
            if problem:
                response.failure(problem)

    def token_problem(self, token: str, number: str, verification_id: str) -> str | None:
        """What is wrong with the token, checked as a backend would; None when it is good."""
        try:
            key = self.keys[jwt.get_unverified_header(token)["kid"]]
            claims = jwt.decode(
                token, key.key, algorithms=["EdDSA"], options={"require": ["exp", "sub", "vid"]}
            )
        except (jwt.PyJWTError, KeyError) as exc:
            return f"token refused: {exc!r}"
        if (claims["sub"], claims["vid"]) != (number, verification_id):
            return f"token for {claims['sub']}/{claims['vid']}, not this verification"
        return None


def expect_refusal(response: ResponseContextManager, statuses: set[int]) -> None:
    """Count the response as a success only with one of `statuses` (a refusal, for abuse)."""
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(f"expected {sorted(statuses)}, got {response.status_code}")


class AbusiveUser(OtpUser):
    """A client guessing codes and flooding one number; its 400s and 429s count as successes."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task(2)
    def guess_codes(self) -> None:
        """Wrong codes until the verification is burned: 400 invalid_code, then 429."""
        with self.number() as number:
            started = self.start_and_read(number, name="/otp/request (wrong codes)")
            if not started:
                return
            verification_id, code = started
            for _ in range(20):
                with self.client.post(
                    "/otp/verify",
                    json={"id": verification_id, "code": wrong_code(code)},
                    name="/otp/verify (wrong code)",
                    catch_response=True,
                ) as response:
                    expect_refusal(response, {400, 429})
                    if response.status_code != 400:
                        break

    @task(1)
    def flood(self) -> None:
        """Requests in a burst on one number: the first starts a verification, the rest get 429."""
        with self.number() as number:
            if not self.request_code(number, name="/otp/request (flood)"):
                return
            for _ in range(FLOOD_SIZE - 1):
                with self.client.post(
                    "/otp/request",
                    json={"phone": number},
                    name="/otp/request (flood)",
                    catch_response=True,
                ) as response:
                    expect_refusal(response, {429})
