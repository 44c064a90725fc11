"""Coinbase /v2/exchange-rates?currency=USD: one request quotes every currency Coinbase lists."""

from __future__ import annotations

from collections.abc import Sequence

from core.lending.models import Asset
from core.market.prices.base import RawQuote, SourceError, as_price
from core.market.prices.http import HttpSource


class CoinbaseSource(HttpSource):
    """Spot rates from Coinbase.

    /v2/prices/{pair}/spot costs one request per asset; the exchange-rates endpoint answers
    units-per-dollar for every currency at once, so the price is 1 / rate.
    """

    name = "coinbase"
    default_url = "https://api.coinbase.com"

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for every asset with a Coinbase product."""
        wanted: dict[str, list[str]] = {}
        for asset in assets:
            if product := asset.id_for(self.name):
                wanted.setdefault(product.split("-")[0], []).append(asset.symbol)
        if not wanted:
            return {}
        body = await self.get("/v2/exchange-rates", params={"currency": "USD"})
        data = body.get("data") if isinstance(body, dict) else None
        rates = data.get("rates") if isinstance(data, dict) else None
        if not isinstance(rates, dict):
            raise SourceError(self.name, "bad-body", "no rates")
        quotes: dict[str, RawQuote] = {}
        for code, symbols in wanted.items():
            rate = as_price(rates.get(code))
            price = as_price(1 / rate) if rate is not None else None
            if price is not None:
                for symbol in symbols:
                    quotes[symbol] = RawQuote(price, None)
        return quotes
