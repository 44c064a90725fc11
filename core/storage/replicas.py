"""Several replicas over one PostgreSQL: one leader per role by advisory lock, and wake-ups by LISTEN/NOTIFY.

A role (the ticks, the sender for one bot token, the webhook registration, ...) is held by whoever holds
its session-level advisory lock, taken on a connection of its own. PostgreSQL drops the lock when that
connection ends, so a replica that dies (SIGKILL, a lost host) frees its roles at once and a standby,
which tries every `interval` seconds, takes them over. A replica that loses its own connection gives up
its roles before it reconnects. With SQLite there is one process, and it holds every role (Solo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = 0x636F6C6C  # the first key of every role's pg_advisory_lock(int, int) ("coll")
OUTBOX_CHANNEL = "collateral_outbox"  # NOTIFY'd by a trigger whenever outbox rows are written
EVENTS_CHANNEL = "collateral_events"  # position changes, for the replica that ticks

Listener = Callable[[set[str], set[str]], Awaitable[None]]  # (gained, lost)


def role_key(role: str) -> int:
    """The second advisory-lock key of a role: a stable 31-bit hash of its name."""
    return zlib.crc32(role.encode()) & 0x7FFFFFFF


class Solo:
    """One process on SQLite: every role is this one's, from the start."""

    def __init__(self, roles: Iterable[str]):
        self.held: set[str] = set(roles)

    def holds(self, role: str) -> bool:
        """Always True."""
        return True


class Leadership:
    """Competes for `roles` on one PostgreSQL connection; tells `listener` what it gained and lost."""

    def __init__(self, url: str, roles: Iterable[str], name: str, listener: Listener | None = None,
                 interval: float = 1.0, timeout: float = 3.0):
        self.url, self.roles, self.name = url, list(roles), name
        self.listener = listener
        self.interval, self.timeout = interval, timeout
        self.held: set[str] = set()
        self.changed_at: dict[str, float] = {}  # role -> when this replica last gained or lost it
        self.backend_pid: int | None = None  # the server process of the lock connection (for fence)
        self._task: asyncio.Task | None = None
        self._conn: Any = None
        self._releasing: set[str] = set()

    def holds(self, role: str) -> bool:
        """Whether this replica is the role's leader now."""
        return role in self.held

    def release(self, role: str) -> None:
        """Give a role up (its start failed): unlocked on the next check, free for anyone to take."""
        self.held.discard(role)
        self._releasing.add(role)

    def start(self) -> asyncio.Task:
        """Compete in the background until stop()."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="leadership")
        return self._task

    async def _set(self, gained: set[str], lost: set[str]) -> None:
        now = time.time()
        self.held = (self.held | gained) - lost
        for role in gained | lost:
            self.changed_at[role] = now
        for role in sorted(gained):
            log.info("%s: now the leader for %s", self.name, role)
        for role in sorted(lost):
            log.warning("%s: no longer the leader for %s", self.name, role)
        if self.listener is not None and (gained or lost):
            try:
                await self.listener(gained, lost)
            except Exception:  # noqa: BLE001 - a failing role start must not stop the competition
                log.exception("%s: starting or stopping a role failed", self.name)

    async def run(self) -> None:
        """Connect, take what is free, check the connection every interval; on any failure give everything up."""
        import psycopg

        while True:
            try:
                self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=max(1, round(self.timeout)),
                                                                   application_name=f"collateral-bot {self.name}"[:63],
                                                                   keepalives=1, keepalives_idle=5, keepalives_interval=2,
                                                                   keepalives_count=2)
                self.backend_pid = self._conn.info.backend_pid
                while True:
                    released = set(self._releasing)
                    for role in released:
                        await asyncio.wait_for(
                            self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", [NAMESPACE, role_key(role)]), self.timeout)
                        self._releasing.discard(role)
                    # a role just given up waits one round here, so another replica may take it first
                    free = [r for r in self.roles if r not in self.held and r not in released]
                    gained = set()
                    for role in free:
                        cur = await asyncio.wait_for(
                            self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [NAMESPACE, role_key(role)]), self.timeout)
                        if (await cur.fetchone())[0]:
                            gained.add(role)
                    if not free:
                        await asyncio.wait_for(self._conn.execute("SELECT 1"), self.timeout)  # still alive, still ours
                    if gained:
                        await self._set(gained, set())
                    await asyncio.sleep(self.interval)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - the server or the network: give the roles up, then try again
                log.warning("%s: lost the database connection for leadership (%s)", self.name, type(err).__name__)
                self._releasing.clear()  # the connection is gone, and its locks with it
                if self.held:
                    await self._set(set(), set(self.held))
                await self._close()
                await asyncio.sleep(self.interval)

    def fence(self, db: Any, role: str) -> None:
        """Inside a write transaction: raise unless this replica's lock connection still holds the role.

        A tick that ran on while its replica lost the role rolls back instead of writing beside the new leader's.
        """
        held = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ? "
                          "AND objid = ? AND objsubid = 2 AND pid = ?",
                          [NAMESPACE, role_key(role), self.backend_pid or -1]).fetchone()[0]
        if not held:
            raise LostRole(f"{self.name} no longer holds {role}")

    async def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._conn = None

    async def stop(self) -> None:
        """Stop competing and release every role (closing the connection releases the locks)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        if self.held:
            await self._set(set(), set(self.held))


class LostRole(Exception):
    """This replica is no longer the leader for a role it was acting on."""


class Bus:
    """LISTEN on the replicas' channels; calls a handler per notification (payload text), reconnecting as needed."""

    def __init__(self, url: str, handlers: dict[str, Callable[[str], None]], interval: float = 1.0):
        self.url, self.handlers, self.interval = url, handlers, interval
        self._task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        """Listen in the background until stop()."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="bus")
        return self._task

    async def run(self) -> None:
        """One connection that LISTENs; after a reconnect every handler is called once with "" (something may be missed)."""
        import psycopg

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=3) as conn:
                    for channel in self.handlers:
                        await conn.execute(f"LISTEN {channel}")
                    if not first:
                        for handler in self.handlers.values():
                            handler("")
                    first = False
                    async for note in conn.notifies():
                        heard = self.handlers.get(note.channel)
                        if heard is not None:
                            heard(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - reconnect after any failure
                log.warning("LISTEN connection lost (%s); reconnecting", type(err).__name__)
                await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
