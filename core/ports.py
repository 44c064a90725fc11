"""What the core needs from outside, as Protocols: a clock, price sources, a price book."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from .models import Asset
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
