"""The fraud guard against SMS pumping: adaptive limits per prefix, country and client address,
escalating blocks, and an optional bot check (docs/fraud-guard.md)."""

from .config import GuardConfig
from .guard import TRUSTED, Caller, Guard

__all__ = ["TRUSTED", "Caller", "Guard", "GuardConfig"]
