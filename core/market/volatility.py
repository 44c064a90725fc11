"""How likely a position is to reach its liquidation line: realized volatility of each asset, the chance that a
price path touches a barrier (not merely ends past it), and a correlated Monte Carlo when several volatile assets
move the health factor together.

The model: each volatile price follows a driftless geometric Brownian motion (the price itself is a martingale:
no view on direction), with the volatility and correlations measured on recent daily or hourly log returns.
Stable assets hold their price. It is an estimate: real crashes have fatter tails and clustered volatility, which
docs/risk.md measures against the bundled history.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

import numpy as np

DAY = 86400
WINDOW_DAYS = 90  # the volatility window
MIN_RECORDED_DAYS = 14  # the bot's own hourly closes are used once they span this long
HORIZONS = (1, 7, 30)  # days
PATHS = 8_000
STEPS_PER_DAY = 24  # hourly monitoring: a touch between two steps is rarely missed at this spacing


@dataclass(frozen=True)
class Series:
    """Log returns of one asset on a regular grid, and where they came from."""

    asset: str
    times: np.ndarray  # unix seconds at the end of each return
    returns: np.ndarray
    per_day: int  # 1 for daily closes, 24 for hourly
    source: str

    @property
    def sigma_daily(self) -> float:
        """The standard deviation of one day's log return."""
        return float(np.std(self.returns, ddof=1) * math.sqrt(self.per_day)) if len(self.returns) > 1 else math.nan


@cache
def bundled_daily(asset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(day start in unix seconds, low, close) of the bundled daily candles, or None for an asset not bundled."""
    path = resources.files("core.market").joinpath(f"data/daily/{asset}-USD-1d.csv")
    if not path.is_file():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f))
    days = np.array([datetime.fromisoformat(r["date"]).replace(tzinfo=UTC).timestamp() for r in rows])
    return days, np.array([float(r["low"]) for r in rows]), np.array([float(r["close"]) for r in rows])


def series(asset: str, recorded: list[tuple[int, float]], window_days: int = WINDOW_DAYS) -> Series | None:
    """The asset's recent log returns: the bot's own hourly closes when they span MIN_RECORDED_DAYS, else the last
    `window_days` of the bundled daily closes."""
    hourly = _hourly(recorded)
    if len(hourly) > 1 and hourly[-1][0] - hourly[0][0] >= MIN_RECORDED_DAYS * DAY:
        hourly = [h for h in hourly if h[0] >= hourly[-1][0] - window_days * DAY]
        t = np.array([h[0] for h in hourly], dtype=float)
        p = np.array([h[1] for h in hourly])
        return Series(asset, t[1:], np.diff(np.log(p)), 24,
                      f"the bot's recorded hourly prices, {_date(t[0])} to {_date(t[-1])}")
    bundled = bundled_daily(asset)
    if bundled is None:
        return None
    days, _, closes = bundled
    days, closes = days[-window_days - 1 :], closes[-window_days - 1 :]
    return Series(asset, days[1:] + DAY, np.diff(np.log(closes)), 1,
                  f"bundled Binance daily closes, {_date(days[0])} to {_date(days[-1])}")


def _hourly(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The last price seen in each hour, for hours with one; gaps are left as gaps (their return spans them)."""
    last: dict[int, float] = {}
    for t, p in points:
        if p > 0 and math.isfinite(p):
            last[int(t) // 3600] = p
    return [(h * 3600, last[h]) for h in sorted(last)]


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def correlation(a: Series, b: Series) -> float:
    """The correlation of two assets' daily log returns over the days both have (0 when fewer than 10)."""
    da, db = _by_day(a), _by_day(b)
    common = sorted(set(da) & set(db))
    if len(common) < 10:
        return 0.0
    x, y = np.array([da[d] for d in common]), np.array([db[d] for d in common])
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _by_day(s: Series) -> dict[int, float]:
    """Daily log returns keyed by UTC day (hourly returns summed into their day)."""
    out: dict[int, float] = {}
    for t, r in zip(s.times, s.returns, strict=True):
        day = int(t - 1) // DAY
        out[day] = out.get(day, 0.0) + float(r)
    return out


def touch_probability(ratio: float, sigma_daily: float, days: float) -> float:
    """The chance that a driftless GBM price touches `ratio` times today's price within `days` (a barrier below
    for ratio < 1, above for ratio > 1), from the reflection principle with the drift -sigma^2/2 of the log."""
    if ratio <= 0 or not math.isfinite(ratio):
        return 0.0
    if ratio == 1:
        return 1.0
    if sigma_daily <= 0 or days <= 0:
        return 0.0
    b = math.log(ratio)
    s = sigma_daily * math.sqrt(days)
    nu = -0.5 * sigma_daily**2 * days  # the log's drift over the horizon
    sign = 1.0 if b < 0 else -1.0  # a barrier above is the same problem for the mirrored path
    first = _phi(sign * (b - nu) / s)
    second = math.exp(2 * nu * b / s**2) * _phi(sign * (b + nu) / s)
    return min(1.0, first + second)


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


@dataclass(frozen=True)
class Book:
    """What the simulation needs of a position: each volatile asset's weight in the health factor's numerator
    (collateral amount x threshold) and denominator (debt amount), today's prices, and the fixed USD parts."""

    assets: tuple[str, ...]
    weights: np.ndarray  # collateral amount x liquidation threshold, per asset
    owed: np.ndarray  # debt amount, per asset
    prices: np.ndarray
    fixed_num: float  # stable collateral x threshold, USD
    fixed_den: float  # stable debt, USD

    def hf(self, prices: np.ndarray) -> np.ndarray:
        """The health factor at price rows (paths x assets)."""
        return (prices @ self.weights + self.fixed_num) / (prices @ self.owed + self.fixed_den)


def simulate(book: Book, sigmas: np.ndarray, corr: np.ndarray, horizons: tuple[int, ...] = HORIZONS,
             paths: int = PATHS, steps_per_day: int = STEPS_PER_DAY, seed: int = 7) -> list[float]:
    """The share of correlated driftless GBM paths whose health factor falls under 1 within each horizon."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / steps_per_day
    chol = np.linalg.cholesky(_nearest_psd(corr))
    step_sd = (sigmas * math.sqrt(dt)).astype(np.float64)
    drift = -0.5 * step_sd**2
    log_p = np.tile(np.log(book.prices), (paths, 1))
    hit = book.hf(np.exp(log_p)) < 1
    out, last = [], max(horizons)
    for step in range(1, last * steps_per_day + 1):
        shocks = rng.standard_normal((paths, len(book.assets))) @ chol.T
        log_p += drift + shocks * step_sd
        hit |= book.hf(np.exp(log_p)) < 1
        if step % steps_per_day == 0 and step // steps_per_day in horizons:
            out.append(float(hit.mean()))
    return out


def _nearest_psd(corr: np.ndarray) -> np.ndarray:
    """A correlation matrix Cholesky accepts: estimated pairwise ones may be a hair from positive definite."""
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    fixed = vectors @ np.diag(np.clip(values, 1e-9, None)) @ vectors.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


@dataclass(frozen=True)
class Calibration:
    """How often positions at one distance from liquidation were really reached, beside what the model said."""

    distance: float  # the liquidation price this far below the day's close
    cases: int
    reached: int
    predicted: float  # the model's mean chance over the same cases

    @property
    def observed(self) -> float:
        return self.reached / self.cases if self.cases else math.nan


def calibrate(assets: tuple[str, ...], distances: tuple[float, ...], horizon: int = 30,
              months: tuple[str, ...] = ()) -> list[Calibration]:
    """Every bundled day (or those in `months`, "2022-06"): a position whose liquidation price sits `distance` under
    that day's close, the volatility of the WINDOW_DAYS before it, and whether a daily low of the next `horizon`
    days reached the line."""
    out = []
    for distance in distances:
        cases = reached = 0
        predicted = 0.0
        for asset in assets:
            bundled = bundled_daily(asset)
            if bundled is None:
                continue
            days, lows, closes = bundled
            logs = np.diff(np.log(closes))
            for t in range(WINDOW_DAYS, len(closes) - horizon):
                if months and _date(days[t])[:7] not in months:
                    continue
                sigma = float(np.std(logs[t - WINDOW_DAYS : t], ddof=1))
                line = closes[t] * (1 - distance)
                cases += 1
                reached += bool(lows[t + 1 : t + 1 + horizon].min() <= line)
                predicted += touch_probability(1 - distance, sigma, horizon)
        out.append(Calibration(distance, cases, reached, predicted / cases if cases else math.nan))
    return out
