"""Binance /api/v3/ticker/price: every ticker in one request (USDT pairs, taken as USD)."""

from __future__ import annotations

from collections.abc import Sequence

from core.lending.models import Asset
from core.market.prices.base import RawQuote, SourceError, as_price
from core.market.prices.http import HttpSource


class BinanceSource(HttpSource):
    """Spot prices from Binance's ticker endpoint.

    One unfiltered request returns every pair, so a delisted symbol cannot fail the whole
    request (a `symbols=[...]` filter answers 400 if any one of them is unknown).
    """

    name = "binance"
    default_url = "https://api.binance.com"

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for every asset with a Binance pair."""
        wanted: dict[str, list[str]] = {}
        for asset in assets:
            if pair := asset.id_for(self.name):
                wanted.setdefault(pair, []).append(asset.symbol)
        if not wanted:
            return {}
        body = await self.get("/api/v3/ticker/price")
        if not isinstance(body, list):
            raise SourceError(self.name, "bad-body", "not a list")
        quotes: dict[str, RawQuote] = {}
        for item in body:
            symbols = wanted.get(str(item.get("symbol"))) if isinstance(item, dict) else None
            price = as_price(item.get("price")) if symbols else None
            if symbols and price is not None:
                for symbol in symbols:
                    quotes[symbol] = RawQuote(price, None)
        return quotes
