"""/risk through the Assistant: the closed form for one volatile asset, the simulation for several, recorded
prices preferred to the bundled ones once there are two weeks of them, and bad input."""

from __future__ import annotations

import math

import pytest

from bot.render import plain_text
from core.market import volatility as vol
from core.market.prices.history import PriceHistory


@pytest.fixture
def risky(assistant, store):
    assistant.history = PriceHistory(store.db)
    return assistant


async def say(assistant, who, text):
    return plain_text(await assistant.handle(who, text))


def flat(text):
    return " ".join(text.split())


async def test_one_asset_is_answered_in_closed_form_from_the_bundled_volatility(risky, alice):
    await say(risky, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    text = flat(await say(risky, alice, "/risk 1"))
    sigma = vol.series("ETH", []).sigma_daily
    ratio = 15_000 / (10 * 3_000 * 0.83)  # the liquidation price over today's $3,000 (Aave's 83 % threshold for ETH)
    for days in vol.HORIZONS:
        p = vol.touch_probability(ratio, sigma, days)
        shown = "under 0.1%" if p < 0.001 else f"{p:.1%}"
        assert f"Within {days} day{'s' if days > 1 else ''} {shown}" in text, text
    assert "in closed form; liquidation at ETH $1,807.23 (-39.8%)" in text, text
    assert f"ETH volatility {sigma * math.sqrt(365):.0%} a year" in text and "bundled Binance daily closes" in text
    assert "An estimate from past volatility, not a forecast" in text


async def test_several_assets_are_simulated_together_with_their_correlation(risky, alice):
    await say(risky, alice, "/add 10 ETH 0.5 BTC borrow 30000 USDC on aave-v3")
    text = flat(await say(risky, alice, "/risk 1"))
    assert "8,000 simulated paths of the assets together" in text and "Correlation ETH/BTC 0.8" in text, text
    odds = [float(text.split(f"Within {d} day{'s' if d > 1 else ''} ")[1].split("%")[0].replace("under 0.1", "0"))
            for d in vol.HORIZONS]
    assert odds == sorted(odds) and odds[-1] > 0, odds  # a longer horizon is never less likely


async def test_recorded_prices_replace_the_bundled_ones_after_two_weeks(risky, alice, clock):
    await say(risky, alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    start = clock.time() - 20 * 86400
    for hour in range(20 * 24):  # ETH swinging 2 % every hour for twenty days
        risky.history.record(start + hour * 3600, {"ETH": 3_000 * (1.02 if hour % 2 else 1.0)})
    text = flat(await say(risky, alice, "/risk 1"))
    assert "from the bot's recorded hourly prices" in text, text


async def test_nothing_to_liquidate_and_bad_input(risky, alice):
    assert "Which position" in await say(risky, alice, "/risk")
    assert "no position #7" in (await say(risky, alice, "/risk 7")).lower()
    await say(risky, alice, "/add 10 ETH on aave-v3")
    assert "borrows nothing" in await say(risky, alice, "/risk 1")
    text = await say(risky, alice, "/risk 1 2")
    assert "Usage: /risk ID" in text
