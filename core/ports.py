"""What the core needs from outside, as Protocols: a clock, price sources, a price book."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from .models import Asset
from .prices.base import PriceSnapshot, RawQuote


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

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for as many of `assets` as the source has; raises SourceError when it fails."""
        ...


class PriceBook(Protocol):
    """Where the service gets prices: the best current quote per asset, or why there is none."""

    async def snapshot(self, symbols: Iterable[str]) -> PriceSnapshot:
        """Quotes for these symbols, and a reason for each one missing."""
        ...
