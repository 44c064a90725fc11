"""Price history in SQLite: every tick for recent days, hourly candles beyond."""

from __future__ import annotations

import math

from core.ports import Database

HOUR = 3600


class PriceHistory:
    """Records trusted prices; keeps ticks for `keep_ticks` seconds and hourly OHLC forever."""

    def __init__(self, db: Database, keep_ticks: float = 2 * 86400):
        self.db = db
        self.keep_ticks = keep_ticks
        self._pruned_hour: int | None = None

    def record(self, now: float, prices: dict[str, float]) -> None:
        """Store one tick's trusted prices and fold them into their hourly candles."""
        rows = [(a, int(now), p) for a, p in prices.items() if math.isfinite(p) and p > 0]
        if not rows:
            return
        hour = int(now) // HOUR * HOUR
        with self.db.atomic():
            self.db.executemany("INSERT INTO price_ticks (asset, ts, price) VALUES (?, ?, ?)", rows)
            self.db.executemany(
                "INSERT INTO price_hourly (asset, hour, open, high, low, close) VALUES (?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT(asset, hour) DO UPDATE SET high = {self.db.greatest('price_hourly.high', 'excluded.high')}, "
                f"low = {self.db.least('price_hourly.low', 'excluded.low')}, close = excluded.close",
                [(a, hour, p, p, p, p) for a, _, p in rows],
            )
        if self._pruned_hour != hour:  # downsample at most once an hour: ticks older than the window go
            self._pruned_hour = hour
            self.db.execute("DELETE FROM price_ticks WHERE ts < ?", [int(now - self.keep_ticks)])

    def series(self, asset: str, since: float, until: float) -> list[tuple[int, float]]:
        """(time, price) points that were observed: every kept tick, and before them the closes of hours whose ticks were
        pruned, each dated at its hour's end (its close was seen by then), so no span is longer than what was seen.

        An hour that is still running, or whose ticks are still kept, is never drawn as a candle: one second after the
        first tick the history spans one second, not back to the top of the hour.
        """
        first_tick = self.db.execute("SELECT min(ts) FROM price_ticks WHERE asset = ?", [asset]).fetchone()[0]
        boundary = first_tick if first_tick is not None else int(until) + 1
        hourly = self.db.execute(
            "SELECT hour + ?, close FROM price_hourly WHERE asset = ? AND hour >= ? AND hour + ? <= ? AND hour + ? <= ? "
            "ORDER BY hour",
            [HOUR, asset, int(since) // HOUR * HOUR, HOUR, boundary, HOUR, int(until)],
        ).fetchall()
        ticks = self.db.execute(
            "SELECT ts, price FROM price_ticks WHERE asset = ? AND ts >= ? AND ts <= ? ORDER BY ts",
            [asset, max(int(since), boundary), int(until)],
        ).fetchall()
        return [(int(t), float(p)) for t, p in hourly + ticks]
