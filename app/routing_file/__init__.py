"""The routing file: providers, scheduling, own numbers, blocked countries, fallbacks, webhooks.

Checked whole at start-up by marshmallow schemas (JSON Schema for editors: `flask otp schema`)
and by each provider's adapter; every problem is reported at once, one line each.
"""

from .errors import RoutingError
from .loader import RoutingFile, load, parse

__all__ = ["RoutingError", "RoutingFile", "load", "parse"]
