"""Replay: real hourly candles bundled with the project, played through the feed on a stepped clock."""

from __future__ import annotations

import csv
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from core.lending.models import Asset
from core.market.prices.base import RawQuote

HOUR = 3600
STEP = 900  # four looks per candle: open, one extreme, the other, close
BUNDLED = ("BTC", "ETH", "SOL", "BNB", "LINK")


@dataclass(frozen=True)
class Candle:
    """One hour of one asset."""

    ts: int
    open: float
    high: float
    low: float
    close: float

    def path(self) -> tuple[float, float, float, float]:
        """The four prices a replay shows within the hour (a falling candle rises first, then falls)."""
        if self.close < self.open:
            return self.open, self.high, self.low, self.close
        return self.open, self.low, self.high, self.close


def _ts(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def load_candles(symbols: Sequence[str] = BUNDLED) -> dict[str, list[Candle]]:
    """The bundled hourly history (core/market/data/history, provenance in its SOURCES.md)."""
    folder = resources.files("core.market").joinpath("data/history")
    out: dict[str, list[Candle]] = {}
    for symbol in symbols:
        with folder.joinpath(f"{symbol}-USD-1h.csv").open() as f:
            rows = csv.DictReader(f)
            out[symbol] = [Candle(_ts(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"])) for r in rows]
    return out


def windows(candles: dict[str, list[Candle]]) -> list[str]:
    """The months the bundle covers, as 'YYYY-MM'."""
    months = {datetime.fromtimestamp(c.ts, UTC).strftime("%Y-%m") for cs in candles.values() for c in cs}
    return sorted(months)


def window_bounds(candles: dict[str, list[Candle]], start: str) -> tuple[int, int]:
    """(first, end) unix seconds for 'YYYY-MM' or 'YYYY-MM-DD' to the end of that bundled month."""
    month = start[:7]
    if month not in windows(candles):
        raise ValueError(f"no bundled history for {start}; choose one of {', '.join(windows(candles))}")
    fmt = "%Y-%m-%d" if len(start) == 10 else "%Y-%m"
    try:
        first = int(datetime.strptime(start, fmt).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise ValueError(f"{start!r} is not YYYY-MM or YYYY-MM-DD") from None
    in_month = [c.ts for cs in candles.values() for c in cs
                if datetime.fromtimestamp(c.ts, UTC).strftime("%Y-%m") == month]
    return max(first, min(in_month)), max(in_month) + HOUR


class ReplayClock:
    """Simulated time that moves only when stepped."""

    def __init__(self, start: float):
        self.now = float(start)

    def time(self) -> float:
        """The simulated now."""
        return self.now

    def step(self, seconds: float = STEP) -> None:
        """Move simulated time forward."""
        self.now += seconds


class ReplaySource:
    """A price source answering from the bundled candles at the replay clock's time."""

    name = "replay"

    def __init__(self, candles: dict[str, list[Candle]], clock: ReplayClock):
        self.candles = candles
        self._times = {s: [c.ts for c in cs] for s, cs in candles.items()}
        self.clock = clock
        self.requests = 0

    def _base(self, asset: Asset) -> str | None:
        if asset.symbol in self.candles:
            return asset.symbol
        if asset.symbol in ("WETH", "WBTC") and asset.moves_with in self.candles:
            return asset.moves_with  # wrapped ETH and BTC trade 1:1 with what they wrap
        return None

    def supports(self, asset: Asset) -> bool:
        """Stablecoins (at $1) and the bundled assets with their 1:1 wrappers."""
        return asset.stable or self._base(asset) is not None

    async def fetch(self, assets: Sequence[Asset]) -> dict[str, RawQuote]:
        """Each asset's price at this point of its candle; none inside an exchange outage."""
        self.requests += 1
        now = self.clock.time()
        quotes = {}
        for asset in assets:
            if asset.stable:
                quotes[asset.symbol] = RawQuote(1.0, now)
                continue
            base = self._base(asset)
            if base is None:
                continue
            times = self._times[base]
            i = bisect_right(times, now) - 1
            if i < 0 or now - times[i] >= HOUR:
                continue  # before the listing, or a gap in the exchange's data
            candle = self.candles[base][i]
            quotes[asset.symbol] = RawQuote(candle.path()[int(now - candle.ts) // STEP], now)
        return quotes
