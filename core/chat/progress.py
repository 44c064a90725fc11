"""Word to the user while their command is still running (a queued chart): the adapter's way to say something now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

# Set by Assistant.handle for the command being handled; None where the adapter cannot say anything early.
PROGRESS: ContextVar[Callable[[str], Awaitable[None]] | None] = ContextVar("progress", default=None)
