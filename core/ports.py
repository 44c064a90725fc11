"""What every room needs from outside, as Protocols: a clock, who administers a group, who hears of position changes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

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


class Cursor(Protocol):
    """What a statement returns: its rows (fetched or to fetch) and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """A database connection as every room uses it."""

    dialect: str  # "sqlite" or "postgresql"
    where: str  # how to name it to a person: a file path, or a URL without its password

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (a transaction of its own unless one is open)."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters."""
        ...

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Insert one row given as column -> value."""
        ...

    def insert_all(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows that share their columns."""
        ...

    def count(self, table: str) -> int:
        """Rows in a table."""
        ...

    def transaction(self) -> AbstractContextManager[Database]:
        """One writer at a time: BEGIN ... COMMIT, rolled back on any error."""
        ...

    def atomic(self) -> AbstractContextManager[Database]:
        """The same as transaction()."""
        ...

    def snapshot(self) -> AbstractContextManager[Database]:
        """Reads that see one moment of the database and may stream (a million rows) without holding the writer's turn."""
        ...

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """A query whose rows arrive as they are read (inside snapshot() on PostgreSQL)."""
        ...

    def greatest(self, *exprs: str) -> str:
        """SQL for the largest of the expressions (SQLite's max(a, b), PostgreSQL's GREATEST)."""
        ...

    def least(self, *exprs: str) -> str:
        """SQL for the smallest of the expressions."""
        ...

    def close(self) -> None:
        """Close the connection(s)."""
        ...


class Storage(Protocol):
    """The database a room keeps its cache or state in (core.storage.store.Store, on SQLite or PostgreSQL)."""

    db: Database

    def transaction(self) -> AbstractContextManager[Database]:
        """One writer at a time: BEGIN ... COMMIT, rolled back on any error."""
        ...
