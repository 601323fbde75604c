"""Signed webhooks to the business system: configuration, signatures, queue and sender."""

from .config import EVENTS, Endpoint
from .sender import Webhooks

__all__ = ["EVENTS", "Endpoint", "Webhooks"]
