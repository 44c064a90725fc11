"""The command table's handlers: each command name mapped to the function that answers it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.chat.commands import Command
from core.chat.context import Context
from core.lending.models import Actor
from core.replies import Reply

Handler = Callable[[Context, Actor, Command], Awaitable[Reply]]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these commands."""

    def register(fn: Handler) -> Handler:
        for name in names:
            if name in HANDLERS:
                raise ValueError(f"/{name} has two handlers: {HANDLERS[name].__name__} and {fn.__name__}")
            HANDLERS[name] = fn
        return fn

    return register
