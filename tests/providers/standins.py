"""What the adapter tests share: messages, stand-in servers, failures and config errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.delivery.providers.base import (
    CallbackRequest,
    ConfigError,
    Message,
    Provider,
    ProviderContext,
    ProviderError,
)

from ..conftest import wait_logged

# A login code by SMS to a US number, with the text the text-sending adapters deliver.
TEXT_FIELDS: dict[str, Any] = {
    "to": "+14155552671",
    "channel": "sms",
    "purpose": "login",
    "locale": "en",
    "code": "123456",
    "ttl_minutes": 10,
    "text": "Your code is 123456",
    "verification_id": "v-1",
}
# Template adapters send no text: the platform fills its approved template with the code.
TEMPLATE_FIELDS: dict[str, Any] = {
    **TEXT_FIELDS,
    "to": "+8613800138000",
    "locale": "zh-CN",
    "code": "493817",
    "ttl_minutes": 5,
    "text": "",
}


def message(**fields: Any) -> Message:
    """A text message; keyword arguments replace its fields."""
    return Message(**{**TEXT_FIELDS, **fields})


def template_message(**fields: Any) -> Message:
    """A message for a template adapter; keyword arguments replace its fields."""
    return Message(**{**TEMPLATE_FIELDS, **fields})


def sent_request(server: HTTPServer) -> Request:
    """The one request the stand-in received."""
    assert len(server.log) == 1
    request, _response = server.log[0]
    return request


def expect_failure(
    adapter: Provider, msg: Message, stand_in: HTTPServer | None = None
) -> ProviderError:
    """The ProviderError of one send, after the stand-in's own checks of the request pass;
    its message must not give the code away."""
    with pytest.raises(ProviderError) as caught:
        adapter.send(msg)
    if stand_in is not None:
        stand_in.check_assertions()
    assert msg.code not in caught.value.message
    return caught.value


# What the service gives an adapter when it is built, at its defaults.
CONTEXT = ProviderContext()


def config_error_key(build: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """The setting named by the ConfigError that `build(*args, **kwargs)` raises."""
    with pytest.raises(ConfigError) as caught:
        build(*args, **kwargs)
    return caught.value.key


@dataclass
class Stall:
    """How long the block under `stalled` took, set as it ends."""

    seconds: float = 0.0


@contextmanager
def stalled(server: HTTPServer, path: str, answer: Response) -> Iterator[Stall]:
    """A stand-in that holds its one answer back until the block ends."""
    release = threading.Event()

    def hold(_request: Request) -> Response:
        release.wait(2)
        return answer

    server.expect_oneshot_request(path, method="POST").respond_with_handler(hold)
    stall, started = Stall(), time.monotonic()
    try:
        yield stall
    finally:
        stall.seconds = time.monotonic() - started
        release.set()
        wait_logged(server, 1)


def json_push(reports: Any, url: str) -> CallbackRequest:
    """A status push whose body is `reports` as JSON, as Alibaba and Tencent Cloud send them."""
    body = json.dumps(reports).encode()
    headers = {"Content-Type": "application/json"}
    return CallbackRequest(url=url, headers=headers, form={}, body=body)
