"""What the market room needs from outside, as Protocols: price sources, and the price book the chat reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from core.lending.models import Asset, PriceSnapshot
from core.market.prices.base import FeedStatus, RawQuote


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
