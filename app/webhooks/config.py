"""Business-system webhook endpoints, as the routing file's `webhooks:` list gives them."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

EVENTS = frozenset(
    {
        "verification.approved",
        "verification.failed",
        "verification.expired",
        "delivery.failed",
        "fraud.blocked",
        "fraud.unblocked",
    }
)
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Endpoint:
    url: str
    events: frozenset[str]
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: float | None = None  # None: sent until removed from the file

    def secrets_at(self, now: float) -> tuple[str, ...]:
        """The secrets to sign with at `now`: the new one first, the old one during the overlap."""
        overlap = self.previous_secret_until is None or now < self.previous_secret_until
        if self.previous_secret and overlap:
            return (self.secret, self.previous_secret)
        return (self.secret,)


def display_url(url: str) -> str:
    """The URL without credentials or query, fit for a log line."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
