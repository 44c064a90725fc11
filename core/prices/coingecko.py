"""CoinGecko /simple/price: keyless, demo or pro key; one request covers every asset asked for."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from ..models import Asset
from .base import RawQuote, SourceError, as_price
from .http import get_json

MAX_IDS_PER_REQUEST = 250


class CoinGeckoSource:
    """Prices from CoinGecko's simple/price endpoint."""

    name = "coingecko"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = "https://api.coingecko.com",
        api_key: str | None = None,
        timeout: float = 10.0,
    ):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers: dict[str, str] = {}
        if api_key:
            header = "x-cg-pro-api-key" if "pro-api" in self.base_url else "x-cg-demo-api-key"
            self.headers[header] = api_key

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Quotes for every asset with a CoinGecko id (one request per 250 ids)."""
        by_id: dict[str, list[str]] = {}
        for asset in assets:
            cg_id = asset.id_for(self.name)
            if cg_id:
                by_id.setdefault(cg_id, []).append(asset.symbol)
        ids = sorted(by_id)
        quotes: dict[str, RawQuote] = {}
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            chunk = ids[start : start + MAX_IDS_PER_REQUEST]
            body = await get_json(
                self.session,
                self.name,
                f"{self.base_url}/api/v3/simple/price",
                params={"ids": ",".join(chunk), "vs_currencies": "usd", "include_last_updated_at": "true"},
                headers=self.headers,
                timeout=self.timeout,
            )
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
