"""APR <-> APY (docs/lending.md's worked examples and round trips) and the carry of a borrow-to-earn position."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.market.carry import SECONDS_PER_YEAR, Carry, apr_to_apy, apy_to_apr, carry


def test_seconds_per_year():
    assert SECONDS_PER_YEAR == 31_536_000


def test_domain_vectors():
    # docs/lending.md: 5 % APR -> 5.1271 % APY compounded per second, 5.1268 % daily.
    assert round(apr_to_apy(0.05) * 100, 4) == 5.1271
    assert apr_to_apy(0.05) == apr_to_apy(0.05, SECONDS_PER_YEAR)  # the default compounding is per second
    # Daily is 5.1267496 %: the 5.1268 once quoted is that rounded twice (5.12675 -> 5.1268); to 4 places it is 5.1267.
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
    # 15,000 USDC borrowed at 5 % APR accrued every second and all of it deployed at 8 % APY:
    #   borrow cost       15,000 * (e^0.05 - 1) = 769.07 (docs/lending.md: not 750)
    #   deploy income     15,000 * 0.08 = 1,200
    #   collateral income 30,000 * 0.03 =   900
    #   equity            30,000 - 15,000 = 15,000
    #   net               1,200 + 900 - 769.07 = 1,330.93  ->  8.873 % on equity
    #   break-even borrow APR: ln(1.08) = 7.696 % (the APR that compounds to the 8 % earned)
    c = carry(15_000, 0.05, 15_000, 0.08, 30_000, 0.03, 15_000)
    assert isinstance(c, Carry)
    assert c.borrow_cost_usd == pytest.approx(769.07, abs=0.005)
    assert c.deploy_income_usd == pytest.approx(1_200)
    assert c.collateral_income_usd == pytest.approx(900)
    assert c.equity_usd == 15_000
    assert c.net_usd == pytest.approx(1_330.93, abs=0.005)
    assert c.net_on_equity == pytest.approx(1_330.93 / 15_000, abs=1e-6)
    assert c.break_even_borrow_apr == pytest.approx(math.log(1.08), rel=1e-6)
    assert (c.debt_usd, c.borrow_apr, c.deployed_usd, c.deploy_apy, c.collateral_usd, c.collateral_apy) == (
        15_000, 0.05, 15_000, 0.08, 30_000, 0.03)


def test_domain_carry_vectors():
    # docs/lending.md: 15,000 at 5 % APR per second costs 769.07; a 10.2 % APY pool breaks even at 9.71 % APR (ln 1.102)
    c = carry(15_000, 0.05, 15_000, 0.102, 30_000, 0.0, 15_000)
    assert round(c.borrow_cost_usd, 2) == 769.07 and round(c.break_even_borrow_apr, 4) == 0.0971
    # at 9.9 % APR the debt costs 15,000 (e^0.099 - 1) = 1,560.99 against 1,530 earned: it does not pay
    worse = carry(15_000, 0.099, 15_000, 0.102, 30_000, 0.0, 15_000)
    assert round(worse.borrow_cost_usd, 2) == 1_560.99 and worse.net_usd < 0 and worse.break_even_borrow_apr < 0.099


def test_a_loan_that_accrues_daily_compounds_daily():
    # 15,000 at 12 % APR compounded daily: 15,000 ((1 + 0.12/365)^365 - 1) = 1,912.12
    c = carry(15_000, 0.12, 15_000, 0.0, 30_000, 0.0, 15_000, borrow_periods=365)
    assert round(c.borrow_cost_usd, 2) == 1_912.12


def test_carry_that_loses_money():
    # Plain ETH collateral (no staking yield), borrowing at 9 % APR to earn 4 %: 600 - 15,000 (e^0.09 - 1) = -812.61
    c = carry(15_000, 0.09, 15_000, 0.04, 30_000, 0.0, 15_000)
    assert c.net_usd == pytest.approx(600 - 15_000 * math.expm1(0.09), abs=0.01)  # per second is a hair under continuous
    assert round(c.net_usd, 2) == -812.61
    assert c.break_even_borrow_apr == pytest.approx(math.log(1.04), rel=1e-6)


def test_break_even_when_only_part_of_the_debt_is_deployed():
    # 10,000 of a 20,000 debt earns 6 %: 600 a year pays the interest on 20,000 up to the APR compounding to 3 %, ln 1.03
    c = carry(20_000, 0.05, 10_000, 0.06, 40_000, 0.0, 20_000)
    assert c.break_even_borrow_apr == pytest.approx(math.log(1.03), rel=1e-6)
    assert carry(20_000, math.log(1.03), 10_000, 0.06, 40_000, 0.0, 20_000).net_usd == pytest.approx(0.0, abs=1e-6)


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
