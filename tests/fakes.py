"""Fakes of the core's own ports: a settable clock and a price book fed from a dict."""

from __future__ import annotations

from collections.abc import Iterable

from core.lending.models import PriceSnapshot, Quote
from core.market.prices.base import FeedStatus


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


class FakePriceSource:
    """A price source (core.ports.PriceSource) answering from a dict; `fail` makes it raise."""

    def __init__(self, prices: dict[str, float], name: str = "fake"):
        self.name = name
        self.prices = dict(prices)
        self.fail: str | None = None
        self.requests = 0

    def supports(self, asset) -> bool:
        return not asset.fixed

    async def fetch(self, assets):
        from core.market.prices.base import RawQuote, SourceError

        self.requests += 1
        if self.fail:
            raise SourceError(self.name, self.fail)
        return {a.symbol: RawQuote(self.prices[a.symbol], None) for a in assets if a.symbol in self.prices}


class FakeAdmins:
    """Group admins by (chat key, user key); change it between calls to test checks at action time."""

    def __init__(self):
        self.admins: set[tuple[str, str]] = set()

    def grant(self, chat, user) -> None:
        self.admins.add((chat.key, user.key))

    def revoke(self, chat, user) -> None:
        self.admins.discard((chat.key, user.key))

    async def is_admin(self, chat, user, right: str = "positions") -> bool:
        return (chat.key, user.key) in self.admins


class FakeNotifier:
    """Records what it was asked to send; `errors` (a list) makes the next sends raise those instead."""

    def __init__(self, platform: str = "telegram"):
        self.platform = platform
        self.sent: list = []
        self.errors: list = []
        self.refuse: set[str] = set()

    def accepts(self, chat) -> bool:
        return chat.key not in self.refuse

    async def send(self, chat, notice) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((chat, notice))
