"""An emulated CoinGecko /simple/price API on 127.0.0.1, with switchable faults."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class PriceState:
    """What the emulator answers: prices by CoinGecko id, and an optional fault."""

    prices: dict[str, float | str | None] = field(default_factory=dict)
    fault: str | None = None  # "500", "429", "slow", "html", "empty", "nan", "truncated"
    retry_after: int = 1
    delay: float = 5.0
    updated_at: float | None = None
    requests: list[dict] = field(default_factory=list)


def coingecko_app(state: PriceState) -> web.Application:
    """aiohttp app answering GET /api/v3/simple/price like CoinGecko."""

    async def simple_price(request: web.Request) -> web.StreamResponse:
        state.requests.append({"path": request.path, "query": dict(request.query), "headers": dict(request.headers)})
        fault = state.fault
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "429":
            return web.Response(status=429, text="rate limited", headers={"Retry-After": str(state.retry_after)})
        if fault == "slow":
            await asyncio.sleep(state.delay)
        if fault == "html":
            return web.Response(text="<html><body>Just a moment...</body></html>", content_type="text/html")
        if fault == "empty":
            return web.Response(text="", content_type="application/json")
        if fault == "truncated":
            return web.Response(text='{"ethereum": {"usd": 30', content_type="application/json")
        ids = request.query.get("ids", "").split(",")
        stamp = int(state.updated_at if state.updated_at is not None else time.time())
        parts = []
        for cg_id in ids:
            if cg_id in state.prices:
                value = state.prices[cg_id]
                text = "null" if value is None else ("NaN" if fault == "nan" else repr(value) if not isinstance(value, str) else value)
                parts.append(f'"{cg_id}": {{"usd": {text}, "last_updated_at": {stamp}}}')
        return web.Response(text="{" + ", ".join(parts) + "}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v3/simple/price", simple_price)
    return app


VECTOR_PRICES = {
    "ethereum": 3000.0,
    "weth": 3000.0,
    "bitcoin": 60000.0,
    "wrapped-bitcoin": 60000.0,
    "usd-coin": 1.0,
    "tether": 1.0,
    "dai": 1.0,
    "liquity-usd": 1.0,
}
"""The prices DOMAIN.md's test vectors assume."""
