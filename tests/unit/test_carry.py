"""APR <-> APY (DOMAIN.md's vectors and round trips) and the carry of a borrow-to-earn position."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.carry import SECONDS_PER_YEAR, Carry, apr_to_apy, apy_to_apr, carry


def test_seconds_per_year():
    assert SECONDS_PER_YEAR == 31_536_000


def test_domain_vectors():
    # DOMAIN.md: 5 % APR -> 5.1271 % APY compounded per second, 5.1268 % daily.
    assert round(apr_to_apy(0.05) * 100, 4) == 5.1271
    assert apr_to_apy(0.05) == apr_to_apy(0.05, SECONDS_PER_YEAR)  # the default compounding is per second
    # Daily is 5.1267496 %: DOMAIN.md's 5.1268 is that rounded twice (5.12675 -> 5.1268); to 4 places it is 5.1267.
    assert round(apr_to_apy(0.05, 365) * 100, 5) == 5.12675
    assert apr_to_apy(0.05, 365) * 100 == pytest.approx(5.1268, abs=6e-5)
    assert apr_to_apy(0.05, None) == pytest.approx(math.exp(0.05) - 1, rel=1e-15)
    assert apr_to_apy(0.05, 1) == pytest.approx(0.05)
    assert apr_to_apy(0.05, 12) == pytest.approx((1 + 0.05 / 12) ** 12 - 1)


def test_inverse_vectors():
    assert round(apy_to_apr(0.051271) * 100, 3) == 5.0
    assert apy_to_apr(math.exp(0.05) - 1, None) == pytest.approx(0.05)
    assert apy_to_apr(0.05, 1) == pytest.approx(0.05)
    assert apy_to_apr(0.051267496, 365) == pytest.approx(0.05, abs=1e-9)


def test_per_second_is_just_below_continuous():
    for apr in (0.001, 0.05, 0.5, 2.0):
        assert apr_to_apy(apr, 365) < apr_to_apy(apr) < apr_to_apy(apr, None)
        assert apr_to_apy(apr, None) - apr_to_apy(apr) < 1e-6 * max(1.0, apr_to_apy(apr, None))


def test_zero_rate():
    assert apr_to_apy(0.0) == 0.0 and apy_to_apr(0.0) == 0.0 and apr_to_apy(0.0, None) == 0.0


periods = st.one_of(st.none(), st.sampled_from([1, 4, 12, 52, 365, 8760, SECONDS_PER_YEAR]))


@given(st.floats(min_value=0, max_value=5, allow_nan=False), periods)
def test_apr_round_trip(apr, n):
    assert apy_to_apr(apr_to_apy(apr, n), n) == pytest.approx(apr, rel=1e-9, abs=1e-12)


@given(st.floats(min_value=0, max_value=10, allow_nan=False), periods)
def test_apy_round_trip(apy, n):
    assert apr_to_apy(apy_to_apr(apy, n), n) == pytest.approx(apy, rel=1e-9, abs=1e-12)


@given(st.floats(min_value=1e-6, max_value=5, allow_nan=False), periods)
def test_compounding_never_pays_less_than_simple(apr, n):
    assert apr_to_apy(apr, n) >= apr * (1 - 1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_rate_errors(bad):
    with pytest.raises(ValueError):
        apr_to_apy(bad)
    with pytest.raises(ValueError):
        apy_to_apr(bad)


@pytest.mark.parametrize("n", [0, -12, 1.5, True])
def test_period_errors(n):
    with pytest.raises(ValueError):
        apr_to_apy(0.05, n)
    with pytest.raises(ValueError):
        apy_to_apr(0.05, n)


def test_apy_of_minus_100_percent_or_worse_has_no_apr():
    with pytest.raises(ValueError):
        apy_to_apr(-1.0)
    with pytest.raises(ValueError):
        apr_to_apy(-2.0, 1)


def test_carry_example():
    # 10 ETH at $3,000 held as stETH-like collateral ($30,000, earning 3 % staking yield),
    # 15,000 USDC borrowed at 5 % APR and all of it deployed at 8 % APY:
    #   borrow cost       15,000 * 0.05 =   750
    #   deploy income     15,000 * 0.08 = 1,200
    #   collateral income 30,000 * 0.03 =   900
    #   equity            30,000 - 15,000 = 15,000
    #   net               1,200 + 900 - 750 = 1,350  ->  1,350 / 15,000 = 9.0 % on equity
    #   break-even borrow APR: 15,000 * 0.08 / 15,000 = 8 % (deployed == debt)
    c = carry(15_000, 0.05, 15_000, 0.08, 30_000, 0.03, 15_000)
    assert isinstance(c, Carry)
    assert c.borrow_cost_usd == pytest.approx(750)
    assert c.deploy_income_usd == pytest.approx(1_200)
    assert c.collateral_income_usd == pytest.approx(900)
    assert c.equity_usd == 15_000
    assert c.net_usd == pytest.approx(1_350)
    assert c.net_on_equity == pytest.approx(0.09)
    assert c.break_even_borrow_apr == pytest.approx(0.08)
    assert (c.debt_usd, c.borrow_apr, c.deployed_usd, c.deploy_apy, c.collateral_usd, c.collateral_apy) == (
        15_000, 0.05, 15_000, 0.08, 30_000, 0.03)


def test_carry_that_loses_money():
    # Plain ETH collateral (no staking yield), borrowing at 9 % to earn 4 %: 600 - 1,350 = -750 on 15,000 -> -5 %.
    c = carry(15_000, 0.09, 15_000, 0.04, 30_000, 0.0, 15_000)
    assert c.net_usd == pytest.approx(-750)
    assert c.net_on_equity == pytest.approx(-0.05)
    assert c.break_even_borrow_apr == pytest.approx(0.04)


def test_break_even_when_only_part_of_the_debt_is_deployed():
    # 10,000 of a 20,000 debt earns 6 %: 600 a year pays the interest on 20,000 only up to 3 %.
    c = carry(20_000, 0.05, 10_000, 0.06, 40_000, 0.0, 20_000)
    assert c.break_even_borrow_apr == pytest.approx(0.03)
    assert carry(20_000, 0.03, 10_000, 0.06, 40_000, 0.0, 20_000).net_usd == pytest.approx(0.0)


def test_no_debt_has_no_break_even_rate():
    c = carry(0, 0.05, 0, 0.08, 30_000, 0.03, 30_000)
    assert c.break_even_borrow_apr == math.inf
    assert c.net_on_equity == pytest.approx(0.03)


@pytest.mark.parametrize("equity", [0, -1, -15_000])
def test_carry_needs_positive_equity(equity):
    with pytest.raises(ValueError):
        carry(15_000, 0.05, 15_000, 0.08, 30_000, 0.03, equity)


@pytest.mark.parametrize("position", range(7))
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_carry_rejects_negative_or_non_finite_inputs(position, bad):
    args = [15_000, 0.05, 15_000, 0.08, 30_000, 0.03, 15_000]
    args[position] = bad
    with pytest.raises(ValueError):
        carry(*args)
