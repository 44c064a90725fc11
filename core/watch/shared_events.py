"""Position changes told across replicas: the one that ticks hears what a command changed on any other."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.lending.models import Owner
from core.ports import Database, PositionEvents

log = logging.getLogger(__name__)


class SharedEvents:
    """core.ports.PositionEvents that tells this replica's monitor and NOTIFYs the others on `channel`.

    A payload is "sender|kind|argument"; a replica ignores its own. An empty payload (the listener reconnected
    and may have missed some) makes the monitor reload everything.
    """

    def __init__(self, local: PositionEvents, db: Database, me: str, channel: str, reload: Callable[[], object],
                 ticking: Callable[[], bool] = lambda: True):
        self.local, self.db, self.me, self.channel, self.reload = local, db, me, channel, reload
        self.ticking = ticking  # only the replica that ticks acts on what others did; a standby reloads when it takes over

    def _say(self, kind: str, argument: str) -> None:
        try:
            self.db.execute("SELECT pg_notify(?, ?)", [self.channel, f"{self.me}|{kind}|{argument}"])
        except Exception:  # noqa: BLE001 - the change is stored; the next leader's reload will see it anyway
            log.warning("could not tell the other replicas of a %s", kind, exc_info=True)

    def position_changed(self, row_id: int) -> None:
        """A position was added or changed."""
        if self.ticking():  # a standby's monitor is rebuilt when it takes over
            self.local.position_changed(row_id)
        self._say("changed", str(row_id))

    def position_removed(self, row_id: int) -> None:
        """A position was deleted."""
        if self.ticking():  # a standby's monitor is rebuilt when it takes over
            self.local.position_removed(row_id)
        self._say("removed", str(row_id))

    def owner_changed(self, owner: Owner) -> None:
        """An owner's options changed."""
        if self.ticking():  # a standby's monitor is rebuilt when it takes over
            self.local.owner_changed(owner)
        self._say("owner", owner.key)

    def heard(self, payload: str) -> None:
        """A notification from the bus."""
        if not self.ticking():
            return
        if not payload:
            self.reload()
            return
        sender, kind, argument = (payload.split("|", 2) + ["", ""])[:3]
        if sender == self.me:
            return
        if kind == "changed" and argument.isdigit():
            self.local.position_changed(int(argument))
        elif kind == "removed" and argument.isdigit():
            self.local.position_removed(int(argument))
        elif kind == "owner" and argument:
            self.local.owner_changed(Owner.from_key(argument))
