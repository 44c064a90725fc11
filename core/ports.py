"""What every room needs from outside, as Protocols: a clock, who administers a group, who hears of position changes."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Protocol

from sqlite_utils import Database

from core.lending.models import ChatRef, Owner


class Clock(Protocol):
    """Wall-clock time in unix seconds."""

    def time(self) -> float: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()


class ChatAdmins(Protocol):
    """Whether a user may act as an admin of a group chat, asked at the moment of the action.

    right: "positions" (register and change the group's own positions) or "sharing" (stop a
    member's position being shared there). Telegram grants both to admins; Discord asks for
    Manage Server and Manage Channels.
    """

    async def is_admin(self, chat: ChatRef, user: Owner, right: str = "positions") -> bool:
        """True when the platform says so now."""
        ...


class NoGroups:
    """For adapters without group chats (the console): nobody administers anything."""

    async def is_admin(self, chat: ChatRef, user: Owner, right: str = "positions") -> bool:
        """Always False."""
        return False


class PositionEvents(Protocol):
    """Told about every change that matters to warnings (the monitor listens)."""

    def position_changed(self, row_id: int) -> None:
        """A position was added or changed, or its alert options were."""
        ...

    def position_removed(self, row_id: int) -> None:
        """A position was deleted."""
        ...

    def owner_changed(self, owner: Owner) -> None:
        """Options for all of an owner's positions changed."""
        ...


class Storage(Protocol):
    """The database a room keeps its cache or state in (core.storage.store.Store is the one there is)."""

    db: Database

    def transaction(self) -> AbstractContextManager[Database]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        ...
