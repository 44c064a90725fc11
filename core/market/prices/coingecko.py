"""CoinGecko /simple/price: keyless, demo or pro key; one request covers up to 250 assets."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from core.lending.models import Asset
from core.market.prices.base import RawQuote, SourceError, as_price
from core.market.prices.http import HttpSource

MAX_IDS_PER_REQUEST = 250


class CoinGeckoSource(HttpSource):
    """Prices from CoinGecko's simple/price endpoint, dated by its last_updated_at."""

    name = "coingecko"
    default_url = "https://api.coingecko.com"

    def __init__(self, session: aiohttp.ClientSession, base_url: str | None = None, api_key: str | None = None, timeout: float = 10.0):
        super().__init__(session, base_url, timeout)
        self.headers: dict[str, str] = {}
        if api_key:
            header = "x-cg-pro-api-key" if "pro-api" in self.base_url else "x-cg-demo-api-key"
            self.headers[header] = api_key

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for every asset with a CoinGecko id."""
        by_id: dict[str, list[str]] = {}
        for asset in assets:
            if cg_id := asset.id_for(self.name):
                by_id.setdefault(cg_id, []).append(asset.symbol)
        ids = sorted(by_id)
        quotes: dict[str, RawQuote] = {}
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            chunk = ids[start : start + MAX_IDS_PER_REQUEST]
            params = {"ids": ",".join(chunk), "vs_currencies": "usd", "include_last_updated_at": "true"}
            body = await self.get("/api/v3/simple/price", params=params, headers=self.headers)
            if not isinstance(body, dict):
                raise SourceError(self.name, "bad-body", "not an object")
            for cg_id in chunk:
                entry = body.get(cg_id)
                if not isinstance(entry, dict):
                    continue
                price = as_price(entry.get("usd"))
                if price is None:
                    continue
                as_of = entry.get("last_updated_at")
                as_of = float(as_of) if isinstance(as_of, (int, float)) and not isinstance(as_of, bool) else None
                for symbol in by_id[cg_id]:
                    quotes[symbol] = RawQuote(price, as_of)
        return quotes
