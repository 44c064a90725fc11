"""What the core needs from outside, as Protocols: a clock, price sources, a price book."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from .models import Asset, ChatRef, Owner
from .notices import Notice
from .prices.base import FeedStatus, PriceSnapshot, RawQuote


class Clock(Protocol):
    """Wall-clock time in unix seconds."""

    def time(self) -> float: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()


class PriceSource(Protocol):
    """One upstream API that quotes USD prices (CoinGecko, Binance, Coinbase, a replay)."""

    name: str

    def supports(self, asset: Asset) -> bool:
        """Whether this source quotes the asset at all."""
        ...

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for as many of `assets` as the source has; raises SourceError when it fails."""
        ...


class PriceBook(Protocol):
    """Where the service gets prices: the best current quote per asset, or why there is none."""

    async def snapshot(self, symbols: Iterable[str]) -> PriceSnapshot:
        """Quotes for these symbols (asking the sources if need be), and a reason for each one missing."""
        ...

    def quotes(self, symbols: Iterable[str]) -> PriceSnapshot:
        """The same from what is already known, without asking anyone."""
        ...

    def status(self) -> FeedStatus:
        """Source health, the last tick and the degraded assets, for /status."""
        ...


class Notifier(Protocol):
    """Delivers pushed messages on one platform; raises core.delivery errors when it cannot."""

    platform: str

    def accepts(self, chat: ChatRef) -> bool:
        """Whether this process can deliver to the chat (the console only to its own user)."""
        ...

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """Deliver; return only once the platform accepted it."""
        ...


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
