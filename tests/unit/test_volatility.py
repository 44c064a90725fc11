"""The /risk model: the closed-form barrier chance, the simulation against it and against an independent Monte
Carlo for two assets, and the volatility estimates from recorded or bundled prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.market import volatility as vol


def one_asset(liquidation_ratio: float) -> vol.Book:
    """10 ETH (LT 1) against debt so that HF = 1 at `liquidation_ratio` times today's price (prices as multiples)."""
    return vol.Book(("ETH",), np.array([1.0]), np.array([0.0]), np.ones(1), 0.0, liquidation_ratio)


def test_the_closed_form_at_a_hand_computed_point():
    # sigma 4 % a day, 30 days, barrier 30 % below: Phi(-1.51843) + (1/0.7) Phi(-1.73755) = 0.06446 + 0.05877
    assert vol.touch_probability(0.7, 0.04, 30) == pytest.approx(0.12323, abs=2e-5)
    assert vol.touch_probability(1.0, 0.04, 1) == 1.0 and vol.touch_probability(0.7, 0.0, 30) == 0.0
    assert vol.touch_probability(0.5, 0.04, 1) < 1e-12 < vol.touch_probability(0.9, 0.04, 1)
    # a barrier above (a volatile debt): 30 % up is nearer in log terms than 30 % down, but at the same log distance
    # the price's own martingale drift (-sigma^2/2 in the log) makes the fall the likelier one
    assert vol.touch_probability(1.3, 0.04, 30) > vol.touch_probability(0.7, 0.04, 30)
    assert vol.touch_probability(1 / 0.7, 0.04, 30) < vol.touch_probability(0.7, 0.04, 30)


def test_the_closed_form_is_the_touch_not_the_end():
    end = 0.5 * math.erfc(-(math.log(0.7) + 0.5 * 0.04**2 * 30) / (0.04 * math.sqrt(30)) / math.sqrt(2))
    assert vol.touch_probability(0.7, 0.04, 30) == pytest.approx(2 * end, rel=0.05)  # reflection: about twice


@pytest.mark.parametrize("ratio", [0.7, 0.85])
def test_the_simulation_of_one_asset_agrees_with_the_closed_form(ratio):
    got = vol.simulate(one_asset(ratio), np.array([0.04]), np.eye(1), paths=20_000)
    want = [vol.touch_probability(ratio, 0.04, d) for d in vol.HORIZONS]
    for g, w in zip(got, want, strict=True):
        se = math.sqrt(max(w * (1 - w), 1e-4) / 20_000)
        # hourly monitoring misses a few touches between steps: the simulation may fall a little short, never above
        assert w - 4 * se - 0.012 <= g <= w + 4 * se, (ratio, got, want)


def test_two_assets_agree_with_an_independent_monte_carlo():
    # 1 ETH and 1 BTC (prices as multiples, LT 0.8 each) against 1.2 of debt: HF = 0.8 (e + b) / 1.2
    book = vol.Book(("ETH", "BTC"), np.array([0.8, 0.8]), np.zeros(2), np.ones(2), 0.0, 1.2)
    sigmas, rho = np.array([0.045, 0.035]), 0.7
    got = vol.simulate(book, sigmas, np.array([[1, rho], [rho, 1]]), horizons=(7, 30), paths=20_000)
    rng = np.random.default_rng(1)  # daily steps split in 24, two independent normals mixed by hand
    n, steps = 20_000, 30 * 24
    e = np.zeros(n)
    b = np.zeros(n)
    hit = np.zeros(n, bool)
    at = {}
    for step in range(1, steps + 1):
        z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
        s1, s2 = sigmas / math.sqrt(24)
        e += s1 * z1 - s1**2 / 2
        b += s2 * (rho * z1 + math.sqrt(1 - rho**2) * z2) - s2**2 / 2
        hit |= 0.8 * (np.exp(e) + np.exp(b)) < 1.2
        if step in (7 * 24, 30 * 24):
            at[step // 24] = hit.mean()
    for g, w in zip(got, (at[7], at[30]), strict=True):
        assert abs(g - w) < 4 * math.sqrt(w * (1 - w) * 2 / 20_000) + 1e-3, (got, at)
    # perfectly correlated equal assets are one asset: the closed form again
    same = vol.simulate(book, np.array([0.04, 0.04]), np.ones((2, 2)), horizons=(30,), paths=20_000)[0]
    assert same == pytest.approx(vol.touch_probability(1.2 / 1.6, 0.04, 30), abs=0.02)


def test_volatility_comes_from_recorded_prices_once_they_span_two_weeks_else_from_the_bundled_days():
    bundled = vol.series("ETH", [])
    assert bundled is not None and bundled.per_day == 1 and len(bundled.returns) == vol.WINDOW_DAYS
    assert bundled.source == "bundled Binance daily closes, 2025-09-02 to 2025-12-01"
    assert 0.01 < bundled.sigma_daily < 0.08
    rng = np.random.default_rng(3)
    start = 1_790_000_000
    prices = 3000 * np.exp(np.cumsum(rng.normal(0, 0.01, 20 * 24)))  # 1 % an hour for 20 days
    recorded = [(start + 3600 * i + 5, float(p)) for i, p in enumerate(prices)]
    s = vol.series("ETH", recorded)
    assert s is not None and s.per_day == 24 and s.source.startswith("the bot's recorded hourly prices")
    assert s.sigma_daily == pytest.approx(0.01 * math.sqrt(24), rel=0.1)
    assert vol.series("ETH", recorded[: 10 * 24]).per_day == 1  # ten days are not enough yet
    assert vol.series("DOGE", []) is None


def test_correlation_of_bundled_eth_and_btc_is_high_and_of_an_asset_with_itself_one():
    eth, btc = vol.series("ETH", []), vol.series("BTC", [])
    assert 0.5 < vol.correlation(eth, btc) < 0.99
    assert vol.correlation(eth, eth) == pytest.approx(1.0)


def test_the_calibration_counts_real_touches_and_the_models_chances():
    rows = vol.calibrate(("ETH",), (0.2, 0.5), months=("2022-06",))
    assert [r.cases for r in rows] == [30, 30]
    near, far = rows
    assert 0 <= far.observed <= near.observed <= 1 and 0 < far.predicted < near.predicted < 1
    # June 2022: ETH fell from about 1,800 to under 1,000; half its days saw a 20 % fall within the month
    assert near.observed == 0.5 and far.observed == 0.3  # 15 and 9 of its 30 days; the model said 40 % and 0.9 %
