"""Backtest: today's amounts replayed through the bundled crash months, checked against the raw candles."""

from __future__ import annotations

import math

import pytest

from core.market.prices.replay import HOUR, Candle, load_candles, window_bounds
from core.watch import alerts
from core.watch.backtest import Leg, Owed, backtest, backtest_all, price_asset

WARN, DANGER = 1.5, 1.2
LINK_WICK = 1_584_007_200  # 2020-03-12T10:00Z, low 0.0001
COMMON_GAP = 1_583_316_000  # 2020-03-04T10:00Z: no candle for any asset


@pytest.fixture(scope="module")
def candles():
    return load_candles()


def month(candles, asset, window):
    start, end = window_bounds(candles, window)
    return [c for c in candles[asset] if start <= c.ts < end]


def first_min(pairs):
    """(ts, value) with the smallest value, the earliest on a tie."""
    return min(pairs, key=lambda p: p[1])


def test_vector_a_shape_through_black_thursday(candles, registry):
    # Vector A (10 ETH, LT 0.83, HF 1.66) at March 2020 prices: 15,000 USDC against ~$2,200 of ETH would
    # be HF 0.12 from the first hour, so the debt is scaled to give vector A's HF at the first close.
    eth = month(candles, "ETH", "2020-03")
    debt = 10 * eth[0].close * 0.83 / 1.66
    r = backtest([Leg("ETH", 10, 0.83)], [Owed("USDC", debt, True)], WARN, DANGER, "2020-03", candles, registry)

    hf = [(c.ts, 10 * c.close * 0.83 / debt) for c in eth]
    assert r.missing == []
    assert (r.start, r.end) == window_bounds(candles, "2020-03")
    assert r.start_hf == pytest.approx(1.66) and r.end_hf == pytest.approx(hf[-1][1])
    assert (r.lowest_at, r.lowest_hf) == pytest.approx(first_min(hf))
    liquidated = next(c for c in eth if 10 * c.close * 0.83 / debt < 1)
    assert r.liquidated_at == liquidated.ts
    assert r.liquidation_prices == {"ETH": liquidated.close}
    assert (r.lowest_wick_at, r.lowest_wick_hf) == pytest.approx(first_min([(c.ts, 10 * c.low * 0.83 / debt) for c in eth]))

    assert r.warnings and r.warnings[0].kind == "worse" and r.warnings[0].level == alerts.WARNING
    assert {e.kind for e in r.warnings} <= {"worse", "reminder", "safe"}
    assert any(e.level == alerts.LIQUIDATABLE for e in r.warnings)

    worst = next(c for c in eth if c.ts == r.lowest_at)
    assert (10 + r.extra_collateral["ETH"]) * worst.close * 0.83 / debt == pytest.approx(1.0)


def test_vector_a_amounts_are_liquidated_from_the_first_hour_of_2020(candles, registry):
    # Amounts are today's: the first look learns the level quietly, as the live rules do; the next hour
    # announces it (nobody was told yet), then reminders.
    r = backtest([Leg("ETH", 10, 0.83)], [Owed("USDC", 15_000, True)], WARN, DANGER, "2020-03", candles, registry)
    assert r.liquidated_at == r.start and r.start_hf == pytest.approx(10 * 218.36 * 0.83 / 15_000)
    assert r.warnings[0].kind == "worse" and [e.kind for e in r.warnings].count("worse") == 1  # then reminders only
    # reminders back off (hourly steps: 1 h, then 2 h, 4 h ... up to 12 h); the hour no asset traded is skipped
    gaps = [(b.ts - a.ts) / 3600 for a, b in zip(r.warnings, r.warnings[1:], strict=False)]
    assert gaps == sorted(gaps) and max(gaps) == 12 and COMMON_GAP not in {e.ts for e in r.warnings}
    assert len(r.warnings) < 70  # a month liquidatable: about 60 messages, not 742


def test_a_low_leverage_position_survives(candles, registry):
    r = backtest([Leg("ETH", 10, 0.83)], [Owed("USDC", 500, True)], WARN, DANGER, "2020-03", candles, registry)
    assert r.liquidated_at is None and r.liquidation_prices == {}
    assert r.extra_collateral == {"ETH": 0.0}
    assert r.lowest_hf > WARN and r.warnings == []


def test_price_assets(registry):
    assert [price_asset(s, registry) for s in ("BTC", "ETH", "SOL", "BNB", "LINK")] == ["BTC", "ETH", "SOL", "BNB", "LINK"]
    assert price_asset("WETH", registry) == "ETH" and price_asset("WBTC", registry) == "BTC"
    assert price_asset("USDC", registry) is None and price_asset("wstETH", registry) is None
    assert price_asset("NOPE", registry) is None


def test_weth_is_priced_from_eth(candles, registry):
    debt = [Owed("USDC", 1_000, True)]
    weth = backtest([Leg("WETH", 10, 0.83)], debt, WARN, DANGER, "2020-03", candles, registry)
    eth = backtest([Leg("ETH", 10, 0.83)], debt, WARN, DANGER, "2020-03", candles, registry)
    assert weth.missing == [] and weth.lowest_hf == eth.lowest_hf and weth.liquidated_at == eth.liquidated_at
    assert weth.liquidation_prices == eth.liquidation_prices  # keyed by the price series
    assert weth.extra_collateral == {"WETH": eth.extra_collateral["ETH"]}


def test_assets_without_history_are_missing(candles, registry):
    r = backtest([Leg("wstETH", 10, 0.81)], [Owed("USDC", 1_000, True)], WARN, DANGER, "2021-05", candles, registry)
    assert r.missing == ["wstETH"] and math.isnan(r.lowest_hf) and r.liquidated_at is None and r.warnings == []
    sol = [Leg("SOL", 100, 0.6)]
    assert backtest(sol, [Owed("USDC", 1_000, True)], WARN, DANGER, "2020-03", candles, registry).missing == ["SOL"]
    assert backtest(sol, [Owed("USDC", 1_000, True)], WARN, DANGER, "2021-05", candles, registry).missing == []
    # stablecoins need no history; a volatile debt does
    fine = backtest([Leg("USDC", 1_000, 0.78)], [Owed("DAI", 100, False)], WARN, DANGER, "2020-03", candles, registry)
    assert fine.missing == [] and fine.lowest_hf == pytest.approx(7.8)
    short = backtest([Leg("USDC", 1_000, 0.78)], [Owed("SOL", 1, False)], WARN, DANGER, "2020-03", candles, registry)
    assert short.missing == ["SOL"]


def test_backtest_all_covers_every_window_in_order(candles, registry):
    results = backtest_all([Leg("ETH", 10, 0.83)], [Owed("USDC", 15_000, True)], WARN, DANGER, candles, registry)
    assert [r.window for r in results] == ["2020-03", "2021-05", "2022-06", "2022-11"]
    assert all(r.start < r.end for r in results) and [r.start for r in results] == sorted(r.start for r in results)
    assert results[1].liquidated_at is None  # May 2021: ETH never fell below $1,807 on a close


def test_the_link_wick_shows_on_lows_not_closes(candles, registry):
    link = month(candles, "LINK", "2020-03")
    r = backtest([Leg("LINK", 1_000, 0.7)], [Owed("USDC", 1_000, True)], WARN, DANGER, "2020-03", candles, registry)
    assert r.lowest_wick_at == LINK_WICK and r.lowest_wick_hf == pytest.approx(1_000 * 0.0001 * 0.7 / 1_000)
    assert (r.lowest_at, r.lowest_hf) == pytest.approx(first_min([(c.ts, c.close * 0.7) for c in link]))
    assert r.lowest_hf > 1 and r.liquidated_at is None  # an oracle on closes never saw the wick


def test_volatile_debt_uses_the_high_for_the_wick(candles, registry):
    eth = month(candles, "ETH", "2021-05")
    r = backtest([Leg("USDC", 10_000, 0.78)], [Owed("ETH", 1, False)], WARN, DANGER, "2021-05", candles, registry)
    assert r.lowest_hf == pytest.approx(min(7_800 / c.close for c in eth))
    assert r.lowest_wick_hf == pytest.approx(min(7_800 / c.high for c in eth))
    assert r.liquidation_prices == {}  # no collateral with a price series


def test_extra_collateral_keeps_every_close_solvent_with_two_assets(candles, registry):
    debt = [Owed("USDC", 20_000, True)]
    legs = [Leg("ETH", 50, 0.83), Leg("BTC", 2, 0.78)]
    r = backtest(legs, debt, WARN, DANGER, "2020-03", candles, registry)
    assert r.liquidated_at is not None
    for i, leg in enumerate(legs):
        topped = list(legs)
        topped[i] = Leg(leg.asset, leg.amount + r.extra_collateral[leg.asset], leg.lt)
        assert backtest(topped, debt, WARN, DANGER, "2020-03", candles, registry).lowest_hf == pytest.approx(1.0)


def test_gaps_keep_the_last_price_and_empty_hours_are_skipped(registry):
    t0 = 1_583_020_800  # 2020-03-01T00:00Z
    flat = {"ETH": [Candle(t0 + h * HOUR, 100, 100, 100, 100) for h in (0, 1, 3)],
            "BTC": [Candle(t0 + h * HOUR, p, p, p, p) for h, p in ((0, 1000), (2, 500), (3, 1000))]}
    r = backtest([Leg("ETH", 1, 1.0), Leg("BTC", 1, 1.0)], [Owed("USDC", 1_000, True)], WARN, DANGER, "2020-03", flat,
                 registry)
    # hour 1: BTC keeps 1,000; hour 2: ETH keeps 100 while BTC prints 500
    assert (r.lowest_at, r.lowest_hf) == (t0 + 2 * HOUR, pytest.approx(0.6))
    assert r.start_hf == pytest.approx(1.1) and r.end_hf == pytest.approx(1.1)
