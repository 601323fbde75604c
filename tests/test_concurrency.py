"""Verify is one atomic step: under concurrent correct submissions exactly one is approved."""

from __future__ import annotations

import threading
from collections import Counter

from flask import Flask

from .conftest import outbox_code

PHONE = "+14155552671"


def race(app: Flask, submissions: int, body: dict[str, str]) -> Counter[int]:
    """Submit `body` to /otp/verify from many threads released at once; count the statuses."""
    barrier = threading.Barrier(submissions)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        own_client = app.test_client()
        barrier.wait()
        response = own_client.post("/otp/verify", json=body)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(submissions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


def test_exactly_one_of_100_concurrent_correct_codes_is_approved(app: Flask) -> None:
    client = app.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    code = outbox_code(client, PHONE)
    assert race(app, 100, {"id": started["id"], "code": code}) == {200: 1, 404: 99}


def test_concurrent_wrong_codes_never_exceed_the_allowed_tries(app: Flask) -> None:
    client = app.test_client()
    started = client.post("/otp/request", json={"phone": PHONE}).get_json()
    code = outbox_code(client, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    # Four wrong tries answered 400, the fifth burns it (429), the rest find nothing.
    assert race(app, 40, {"id": started["id"], "code": wrong}) == {400: 4, 429: 1, 404: 35}
