"""The market room as the others see it, and what it needs from outside: price sources, the price book, yields, history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from core.lending.models import Asset, PriceSnapshot
from core.market.prices.base import FeedStatus, RawQuote
from core.market.yields import Pool

if TYPE_CHECKING:  # the book's own types, named here only for the signatures
    from core.market.yield_book import BorrowRate, YieldAnswer


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


class Yields(Protocol):
    """Where /yield and /carry get pools and borrow rates (core.market.yield_book.YieldBook)."""

    async def answer(self, asset: str, **filters: Any) -> YieldAnswer:
        """The best pools for an asset, fetching first when the cache is due."""
        ...

    async def refresh_if_due(self) -> None:
        """Fetch when the cache is an hour old and the last failure is not too recent."""
        ...

    def best_for(self, asset: str, **filters: Any) -> Pool | None:
        """The top pool for an asset from what is known, without the network."""
        ...

    def issuer_pool(self, project: str, symbol: str) -> Pool | None:
        """A liquid-staking token's own staking pool."""
        ...

    def borrow_rate(self, protocol: str, asset: str) -> BorrowRate | None:
        """A lender's variable borrow rate for an asset, when the data has one."""
        ...

    def provenance(self) -> YieldAnswer:
        """Where the data comes from now (for a footer)."""
        ...

    def describe(self) -> str:
        """One line for /status."""
        ...


class PriceSeries(Protocol):
    """Recorded prices for /chart (core.market.prices.history.PriceHistory)."""

    def series(self, asset: str, since: float, until: float) -> list[tuple[int, float]]:
        """(time, price) points that were observed between the two times."""
        ...

