"""An API access token shared by every worker through Redis, fetched by one worker at a time.

WeChat's access tokens (WeCom and Official Accounts alike) live two hours and every fetch counts
against a daily quota, so the workers keep one token in Redis rather than one each. It is cached
until shortly before it expires; a worker that finds it missing, or that had it rejected, takes
a short lock and fetches a new one while the others wait for that one: a burst of workers makes
one fetch, not one each.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import RedisError

from app import keys, luascripts

from .base import FailureClass, ProviderError

# Replace a token this long before it expires: WeChat accepts the old and the new one side by
# side for five minutes, so a token read from the cache just before it goes stale still works.
REFRESH_MARGIN = 300
POLL_SECONDS = 0.05

# A fetch: the new token and its lifetime in seconds.
Fetch = Callable[[], tuple[str, int]]


@contextmanager
def cache_errors(kind: str) -> Iterator[None]:
    """Redis trouble while sending is the provider's passing trouble, not an adapter bug."""
    try:
        yield
    except RedisError as exc:
        raise ProviderError(
            FailureClass.TRANSIENT, f"{kind}: shared cache unreachable ({type(exc).__name__})"
        ) from exc


class SharedToken:
    """One access token per account, cached in Redis under `<prefix>:{<scope>}:token`."""

    def __init__(self, client: Any, kind: str, scope: str, fetch: Fetch, timeout: float) -> None:
        self.scope = scope  # the account's own hash tag, for its other keys too
        self.key = keys.key(scope, "token")
        self._lock = keys.key(scope, "lock")
        self.client = client
        self._kind = kind
        self._fetch = fetch
        self._wait = timeout + 1.0  # one fetch takes at most one request timeout
        self._store = luascripts.register(client, "app.delivery", "token")

    def get(self) -> str:
        """The cached token, or a new one."""
        with cache_errors(self._kind):
            return self._cached() or self._refresh(None)

    def refresh(self, rejected: str) -> str:
        """A token other than the one the API just `rejected`: the one another worker has
        fetched meanwhile, or a new one."""
        with cache_errors(self._kind):
            return self._refresh(rejected)

    def _refresh(self, rejected: str | None) -> str:
        deadline = time.monotonic() + self._wait
        while True:
            current = self._cached()
            if current and current != rejected:
                return current
            holder = secrets.token_hex(8)
            if self.client.set(self._lock, holder, nx=True, px=round(self._wait * 1000)):
                return self._fetch_locked(holder, rejected)
            if time.monotonic() > deadline:
                raise ProviderError(
                    FailureClass.TRANSIENT, f"{self._kind}: another worker's token fetch hangs"
                )
            time.sleep(POLL_SECONDS)

    def _fetch_locked(self, holder: str, rejected: str | None) -> str:
        """Fetch under the lock, store the token and let go of the lock, even on failure."""
        token, lifetime = "", 0
        try:
            current = self._cached()  # stored by another worker between our look and our lock
            if current and current != rejected:
                return current
            token, lifetime = self._fetch()
            return token
        finally:
            cached_ms = (lifetime - min(REFRESH_MARGIN, lifetime // 2)) * 1000
            self._store(keys=[self.key, self._lock], args=[token, max(cached_ms, 1), holder])

    def _cached(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
