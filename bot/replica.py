"""This process's part among replicas: the roles it may lead, what each starts and stops, and the wake-ups it hears.

On SQLite there is one process and it leads every role from the start. On PostgreSQL each role is
competed for (core.storage.replicas.Leadership); gaining one starts its part here, losing it stops it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from core.storage.replicas import Bus, Leadership, Solo

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]
TICKS = "ticks"  # prices, chains, warnings, yields and mining data: the state every tick builds on
REGISTER = "register"  # the one-off setWebhook and command menu


def token_role(kind: str, platform: str, token: str) -> str:
    """A role per bot token ("sender:telegram:1f2e3d4c"), named by a hash so no log or lock shows the token."""
    return f"{kind}:{platform}:{hashlib.sha256(token.encode()).hexdigest()[:8]}"


def default_name() -> str:
    """host-pid: unique among replicas on one host and across hosts."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Replica:
    """Roles and their actions; `holds` answers whether this process leads a role now."""

    def __init__(self, name: str, url: str | None, interval: float = 1.0):
        self.name = name
        self.url = url
        self.interval = interval
        self._actions: dict[str, tuple[Action, Action]] = {}
        self._handlers: dict[str, Callable[[str], None]] = {}
        self.leadership: Leadership | Solo | None = None
        self.bus: Bus | None = None

    @property
    def shared(self) -> bool:
        """Whether other replicas may run beside this one (PostgreSQL)."""
        return self.url is not None

    def role(self, name: str, start: Action, stop: Action) -> None:
        """What leading `name` means: start() when gained, stop() when lost."""
        self._actions[name] = (start, stop)

    def on_notify(self, channel: str, handler: Callable[[str], None]) -> None:
        """Call handler(payload) on a NOTIFY (PostgreSQL only)."""
        self._handlers[channel] = handler

    def holds(self, role: str) -> bool:
        """Whether this process leads the role now."""
        return self.leadership is not None and self.leadership.holds(role)

    def held(self) -> list[str]:
        """The roles this process leads, sorted."""
        return sorted(self.leadership.held) if self.leadership is not None else []

    def roles(self) -> list[str]:
        """Every role there is to lead."""
        return sorted(self._actions)

    async def _switch(self, gained: set[str], lost: set[str]) -> None:
        for role in sorted(lost):
            try:
                await self._actions[role][1]()
            except Exception:  # noqa: BLE001 - the other roles must still be stopped
                log.exception("%s: stopping %s failed", self.name, role)
        for role in sorted(gained):
            try:
                await self._actions[role][0]()
            except Exception:
                if not isinstance(self.leadership, Leadership):
                    raise  # alone: the start fails, in one line (StartupError)
                # Among replicas: let the role go, so another replica (or this one, a moment later) tries it.
                log.exception("%s: starting %s failed; giving the role up", self.name, role)
                self.leadership.release(role)

    async def start(self) -> None:
        """Lead everything (SQLite), or start competing and listening (PostgreSQL)."""
        if self.url is None:
            self.leadership = Solo(self._actions)
            await self._switch(set(self._actions), set())
            return
        self.leadership = Leadership(self.url, self._actions, self.name, self._switch, self.interval)
        self.leadership.start()
        if self._handlers:
            self.bus = Bus(self.url, self._handlers, self.interval)
            self.bus.start()

    async def stop(self) -> None:
        """Stop every role this process leads, and stop competing (the locks go with the connection)."""
        if self.bus is not None:
            await self.bus.stop()
        if isinstance(self.leadership, Leadership):
            await self.leadership.stop()
        elif self.leadership is not None:
            await self._switch(set(), set(self._actions))
            self.leadership.held = set()

