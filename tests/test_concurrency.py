"""Verify is one atomic step: under concurrent correct submissions exactly one is approved."""

from __future__ import annotations

import threading
from collections import Counter

from flask import Flask

from .conftest import outbox_code


def test_exactly_one_of_100_concurrent_correct_codes_is_approved(app: Flask) -> None:
    client = app.test_client()
    started = client.post("/otp/request", json={"phone": "+14155552671"}).get_json()
    code = outbox_code(client, "+14155552671")
    barrier = threading.Barrier(100)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        own_client = app.test_client()
        barrier.wait()
        response = own_client.post("/otp/verify", json={"id": started["id"], "code": code})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {200: 1, 404: 99}


def test_concurrent_wrong_codes_never_exceed_the_allowed_tries(app: Flask) -> None:
    client = app.test_client()
    started = client.post("/otp/request", json={"phone": "+14155552671"}).get_json()
    code = outbox_code(client, "+14155552671")
    wrong = "000000" if code != "000000" else "111111"
    statuses: list[int] = []
    barrier = threading.Barrier(40)

    def submit() -> None:
        barrier.wait()
        response = app.test_client().post("/otp/verify", json={"id": started["id"], "code": wrong})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Four wrong tries answered 400, the fifth burns it (429), the rest find nothing.
    assert Counter(statuses) == {400: 4, 429: 1, 404: 35}
