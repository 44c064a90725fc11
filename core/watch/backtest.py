"""Backtest: a position's health replayed hour by hour through the bundled crash months.

The amounts are those the position holds today, played against the prices of a past month
("what if I had held this then"). Closes stand for what an oracle-priced lender sees; lows
(highs for volatile debt) give the exchange-wick worst case. Times are candle open times
(unix s, UTC), as the bundle labels its hours. The replay runs on past a liquidation with the
amounts unchanged, so the lowest health and the extra collateral cover the whole month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.lending import risk
from core.market.prices.replay import BUNDLED, HOUR, window_bounds, windows
from core.watch import alerts

WRAPPERS = ("WETH", "WBTC")  # trade 1:1 with what they wrap (their registry moves_with)
NAN = math.nan


@dataclass(frozen=True)
class Leg:
    """Collateral: an amount of an asset and the lender's liquidation threshold for it."""

    asset: str
    amount: float
    lt: float


@dataclass(frozen=True)
class Owed:
    """Debt: an amount of an asset; at_par when the lender counts it at exactly $1 (Maker DAI, CeFi USD)."""

    asset: str
    amount: float
    at_par: bool


@dataclass(frozen=True)
class Event:
    """One message the live alert rules would have sent."""

    ts: int
    kind: str  # "worse" | "reminder" | "safe"
    level: int  # alerts.OK .. alerts.LIQUIDATABLE after the message
    hf: float


@dataclass(frozen=True)
class BacktestResult:
    """What one bundled month would have done to the position."""

    window: str
    start: int
    end: int
    start_hf: float
    end_hf: float
    lowest_hf: float  # on hourly closes
    lowest_at: int
    lowest_wick_hf: float  # on hourly lows (highs for volatile debt)
    lowest_wick_at: int
    warnings: list[Event]
    liquidated_at: int | None  # first close with HF < 1
    liquidation_prices: dict[str, float]  # price asset -> its close at liquidated_at
    extra_collateral: dict[str, float]  # collateral asset -> extra amount keeping HF >= 1 on every close
    missing: list[str]  # position assets without prices in this window (the figures are then NaN)


def price_asset(symbol: str, registry) -> str | None:
    """The bundled series that prices `symbol`: itself, what a 1:1 wrapper wraps, else None."""
    if symbol in BUNDLED:
        return symbol
    if symbol in WRAPPERS and symbol in registry:
        return registry.get(symbol).moves_with
    # Stablecoins count $1. Staking tokens (stETH, wstETH, rETH) drift from ETH by their accrued
    # yield and their own depegs, so ETH is no honest stand-in for them: they are missing.
    return None


def _stable(symbol: str, registry) -> bool:
    return symbol in registry and registry.get(symbol).stable


def _px(source: str | None, prices: dict[str, float]) -> float:
    return 1.0 if source is None else prices[source]


def backtest(collateral: list[Leg], debt: list[Owed], warn: float, danger: float, window: str, candles: dict,
             registry) -> BacktestResult:
    """Replay today's amounts through one bundled month ("what if I had held this then"), hour by hour."""
    start, end = window_bounds(candles, window)  # ValueError for a month the bundle lacks

    # Each position asset -> its price series, or None when it counts $1 (stablecoins, at-par debt;
    # depegs are not in the bundle).
    coll_free = {c.asset: _stable(c.asset, registry) for c in collateral}
    debt_free = {d.asset: d.at_par or _stable(d.asset, registry) for d in debt}
    coll_src = {a: None if free else price_asset(a, registry) for a, free in coll_free.items()}
    debt_src = {a: None if free else price_asset(a, registry) for a, free in debt_free.items()}
    series = sorted({s for s in (*coll_src.values(), *debt_src.values()) if s})
    by_hour = {s: {c.ts: c for c in candles.get(s, ()) if start <= c.ts < end} for s in series}

    # A priced asset without a series, or whose series has no candle this month (SOL before 2020-08).
    missing = [asset for frees, sources in ((coll_free, coll_src), (debt_free, debt_src))
               for asset, free in frees.items() if not free and not by_hour.get(sources[asset] or "")]
    if missing:
        missing = list(dict.fromkeys(missing))
        return BacktestResult(window, start, end, NAN, NAN, NAN, start, NAN, start, [], None, {}, {}, missing)

    def exposure(coll_px: dict[str, float], debt_px: dict[str, float]) -> risk.Exposure:
        return risk.Exposure(
            tuple(risk.CollateralLeg(c.asset, c.amount, _px(coll_src[c.asset], coll_px), c.lt, 0.0) for c in collateral),
            tuple(risk.DebtLeg(d.asset, d.amount, _px(debt_src[d.asset], debt_px)) for d in debt),
        )

    close: dict[str, float] = {}
    state = alerts.AlertState()
    warnings: list[Event] = []
    hfs: list[tuple[int, float]] = []
    wick = (math.inf, start)
    liquidated_at, liquidation_prices = None, {}
    extra = {c.asset: 0.0 for c in collateral}
    for ts in range(start, end, HOUR):
        now = {s: by_hour[s][ts] for s in series if ts in by_hour[s]}
        if series and not now:
            continue  # nothing traded this hour (exchange outage)
        close.update({s: c.close for s, c in now.items()})
        if len(close) < len(series):
            continue  # an asset has not printed its first candle of the window yet
        e = exposure(close, close)
        hf = risk.health_factor(e)
        hfs.append((ts, hf))

        # Wick: every collateral at its low, every volatile debt at its high; an asset without a
        # candle this hour keeps its last close (an old wick must not count twice).
        lows = {s: now[s].low if s in now else p for s, p in close.items()}
        highs = {s: now[s].high if s in now else p for s, p in close.items()}
        wick = min(wick, (risk.health_factor(exposure(lows, highs)), ts), key=lambda x: x[0])

        state, message = alerts.decide(state, hf, warn, danger, ts)
        if message:
            warnings.append(Event(ts, message, state.level, hf))
        if hf < 1 and liquidated_at is None:
            liquidated_at = ts
            liquidation_prices = {s: close[s] for s in coll_src.values() if s}

        # The extra amount of each collateral that lifts this hour's HF to 1; the answer is the
        # largest over the window (with several assets the worst hour for one need not be the worst overall).
        shortfall = risk.debt_value(e) - risk.weighted_collateral(e)
        if shortfall > 0:
            for leg in e.collateral:
                per_unit = leg.lt * leg.price
                extra[leg.asset] = max(extra[leg.asset], shortfall / per_unit if per_unit > 0 else math.inf)

    lowest_at, lowest_hf = min(hfs, key=lambda x: x[1]) if hfs else (start, NAN)
    return BacktestResult(
        window=window, start=start, end=end,
        start_hf=hfs[0][1] if hfs else NAN, end_hf=hfs[-1][1] if hfs else NAN,
        lowest_hf=lowest_hf, lowest_at=lowest_at,
        lowest_wick_hf=wick[0] if hfs else NAN, lowest_wick_at=wick[1],
        warnings=warnings, liquidated_at=liquidated_at, liquidation_prices=liquidation_prices,
        extra_collateral=extra, missing=[],
    )


def backtest_all(collateral: list[Leg], debt: list[Owed], warn: float, danger: float, candles: dict,
                 registry) -> list[BacktestResult]:
    """backtest() through every bundled month, oldest first."""
    return [backtest(collateral, debt, warn, danger, w, candles, registry) for w in windows(candles)]
