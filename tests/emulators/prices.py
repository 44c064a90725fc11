"""Emulated CoinGecko, Binance and Coinbase price APIs on 127.0.0.1, each with switchable faults.

Faults: "500", "429" (with Retry-After), "slow" (past the client's timeout), "html", "empty",
"truncated", "nan", "inf", "negative", "null", "missing" (assets left out), and for CoinGecko,
whose answers are dated, "future" and "old" timestamps. `skew` multiplies one source's prices
(10 % apart, a 60 % jump).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from core.lending.assets import AssetRegistry

FAULTS = ("500", "429", "slow", "html", "empty", "truncated", "nan", "inf", "negative", "null", "missing", "future", "old")


@dataclass
class SourceState:
    """What one emulated API answers."""

    fault: str | None = None
    skew: float = 1.0
    retry_after: int = 1
    delay: float = 5.0
    requests: int = 0
    headers: list[dict] = field(default_factory=list)


@dataclass
class PriceWorld:
    """True USD prices by our symbol, and the three APIs' states."""

    prices: dict[str, float] = field(default_factory=dict)
    coingecko: SourceState = field(default_factory=SourceState)
    binance: SourceState = field(default_factory=SourceState)
    coinbase: SourceState = field(default_factory=SourceState)
    now: float | None = None  # the emulators' clock (None: real time)

    def total_requests(self) -> int:
        return self.coingecko.requests + self.binance.requests + self.coinbase.requests


def _value(state: SourceState, price: float) -> str:
    """The number as the fault wants it written."""
    fault = state.fault
    if fault == "nan":
        return "NaN"
    if fault == "inf":
        return "Infinity"
    if fault == "null":
        return "null"
    if fault == "negative":
        return repr(-abs(price * state.skew))
    return repr(price * state.skew)


async def transport_fault(state) -> web.Response | None:
    """The faults that replace the whole answer."""
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
        return web.Response(text='{"data": [1, 2', content_type="application/json")
    return None


def price_app(world: PriceWorld, registry: AssetRegistry | None = None) -> web.Application:
    """One aiohttp app serving all three APIs (each on its own path, as the real roots differ)."""
    registry = registry or AssetRegistry.bundled()
    cg_ids: dict[str, list[str]] = {}
    pairs: dict[str, list[str]] = {}
    codes: dict[str, list[str]] = {}
    for asset in registry:
        for source, index, key in (("coingecko", cg_ids, None), ("binance", pairs, None), ("coinbase", codes, "-")):
            ident = asset.id_for(source)
            if ident:
                index.setdefault(ident.split(key)[0] if key else ident, []).append(asset.symbol)

    def price_of(symbols: list[str]) -> float | None:
        return next((world.prices[s] for s in symbols if s in world.prices), None)

    async def coingecko(request: web.Request) -> web.Response:
        state = world.coingecko
        state.requests += 1
        state.headers.append(dict(request.headers))
        if (fault := await transport_fault(state)) is not None:
            return fault
        now = world.now if world.now is not None else time.time()
        stamp = now + 3600 if state.fault == "future" else now - 3 * 3600 if state.fault == "old" else now
        parts = []
        for cg_id in request.query.get("ids", "").split(","):
            price = price_of(cg_ids.get(cg_id, []))
            if price is None or state.fault == "missing":
                continue
            parts.append(f'"{cg_id}": {{"usd": {_value(state, price)}, "last_updated_at": {int(stamp)}}}')
        return web.Response(text="{" + ", ".join(parts) + "}", content_type="application/json")

    async def binance(request: web.Request) -> web.Response:
        state = world.binance
        state.requests += 1
        if (fault := await transport_fault(state)) is not None:
            return fault
        items = []
        for pair, symbols in sorted(pairs.items()):
            price = price_of(symbols)
            if price is None or state.fault == "missing":
                continue
            value = _value(state, price)
            items.append(f'{{"symbol": "{pair}", "price": {value if value in ("null", "NaN", "Infinity") else chr(34) + value + chr(34)}}}')
        items.append('{"symbol": "NOPEUSDT", "price": "1.0"}')  # pairs nobody asked about are ignored
        return web.Response(text="[" + ", ".join(items) + "]", content_type="application/json")

    async def coinbase(request: web.Request) -> web.Response:
        state = world.coinbase
        state.requests += 1
        if (fault := await transport_fault(state)) is not None:
            return fault
        rates = []
        for code, symbols in sorted(codes.items()):
            price = price_of(symbols)
            if price is None or state.fault == "missing":
                continue
            value = _value(state, price)
            rate = value if value in ("null", "NaN", "Infinity") else f'"{1 / float(value)!r}"'
            rates.append(f'"{code}": {rate}')
        return web.Response(text='{"data": {"currency": "USD", "rates": {' + ", ".join(rates) + "}}}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/coingecko/api/v3/simple/price", coingecko)
    app.router.add_get("/binance/api/v3/ticker/price", binance)
    app.router.add_get("/coinbase/v2/exchange-rates", coinbase)
    return app


VECTOR_PRICES = {"ETH": 3000.0, "WETH": 3000.0, "BTC": 60000.0, "WBTC": 60000.0, "USDC": 1.0, "USDT": 1.0, "DAI": 1.0, "LUSD": 1.0}
"""The prices docs/lending.md's worked examples assume."""
