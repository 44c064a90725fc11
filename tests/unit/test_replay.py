"""The bundled history and the replay source: real candles, wicks intact, gaps left as gaps."""

from __future__ import annotations

import pytest

from core.market.prices.replay import HOUR, STEP, ReplayClock, ReplaySource, load_candles, window_bounds, windows


@pytest.fixture(scope="module")
def candles():
    return load_candles()


def test_the_bundle_covers_the_four_crashes(candles):
    assert windows(candles) == ["2020-03", "2021-05", "2022-06", "2022-11"]
    assert "SOL" in candles and not any(c.ts < 1_590_000_000 for c in candles["SOL"])  # SOL listed 2020-08


def test_black_thursday_is_in_it(candles):
    eth_low = min(candles["ETH"], key=lambda c: c.low if c.ts < 1_585_000_000 else 1e9)
    assert eth_low.low == 86.0
    link = {c.ts: c for c in candles["LINK"]}
    assert min(c.low for c in link.values()) == 0.0001


def test_window_bounds(candles):
    first, end = window_bounds(candles, "2022-11")
    assert end - first == 30 * 24 * HOUR
    first, _ = window_bounds(candles, "2020-03-12")
    assert first == 1_583_971_200
    with pytest.raises(ValueError):
        window_bounds(candles, "2019-01")


async def test_a_candle_plays_open_extremes_close(candles, registry):
    ts = 1_584_007_200  # 2020-03-12T10:00Z, the LINK wick
    clock = ReplayClock(ts)
    source = ReplaySource(candles, clock)
    seen = []
    for _ in range(4):
        seen.append((await source.fetch([registry.get("LINK"), registry.get("USDC")]))["LINK"].price)
        clock.step(STEP)
    assert seen == [3.0634, 3.0765, 0.0001, 2.4693]


async def test_wrapped_assets_follow_and_gaps_stay_gaps(candles, registry):
    clock = ReplayClock(1_584_007_200)
    source = ReplaySource(candles, clock)
    quotes = await source.fetch([registry.get("WETH"), registry.get("ETH"), registry.get("wstETH")])
    assert quotes["WETH"].price == quotes["ETH"].price and "wstETH" not in quotes
    clock.now = 1_583_020_800 + 10 * 24 * HOUR + 0.5  # still inside the month: a normal hour
    assert (await source.fetch([registry.get("BTC")]))
    clock.now = 1_600_000_000  # between bundled months: no data, no price
    assert await source.fetch([registry.get("BTC")]) == {}
