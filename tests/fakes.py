"""Fakes of the core's own ports: a settable clock and a price book fed from a dict."""

from __future__ import annotations

from collections.abc import Iterable

from core.models import Quote
from core.prices.base import FeedStatus, PriceSnapshot


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakePriceBook:
    """Prices by symbol; symbols not in the dict are missing; `untrusted` ones come back marked. Records requests."""

    def __init__(self, prices: dict[str, float], clock: FakeClock | None = None):
        self.prices = dict(prices)
        self.untrusted: dict[str, str] = {}
        self.clock = clock or FakeClock()
        self.requests: list[set[str]] = []

    async def snapshot(self, symbols: Iterable[str]) -> PriceSnapshot:
        wanted = set(symbols)
        self.requests.append(wanted)
        return self.quotes(wanted)

    def quotes(self, symbols: Iterable[str]) -> PriceSnapshot:
        snap = PriceSnapshot()
        for symbol in symbols:
            if symbol == "USD":
                snap.quotes[symbol] = Quote(symbol, 1.0, "fixed", self.clock.time())
            elif symbol in self.prices:
                why = self.untrusted.get(symbol, "")
                snap.quotes[symbol] = Quote(symbol, self.prices[symbol], "fake", self.clock.time(), trusted=not why, note=why)
            else:
                snap.missing[symbol] = "fake: no price"
        return snap

    def status(self) -> FeedStatus:
        return FeedStatus(degraded=dict(self.untrusted))


VECTOR_PRICES = {"ETH": 3000.0, "WETH": 3000.0, "BTC": 60000.0, "WBTC": 60000.0, "USDC": 1.0, "USDT": 1.0, "DAI": 1.0, "LUSD": 1.0}
