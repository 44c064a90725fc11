"""Property tests: the risk math is monotonic and its answers agree with each other."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.lending import risk
from core.lending.assets import AssetRegistry
from core.lending.models import Leg, Overrides, PriceSnapshot, Quote
from core.lending.protocols import Presets
from core.lending.valuation import value
from core.watch.evaluation import Evaluator

amounts = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)
prices = st.floats(min_value=1e-2, max_value=1e6, allow_nan=False)
thresholds = st.floats(min_value=0.05, max_value=0.97, allow_nan=False)


@st.composite
def exposures(draw, max_legs=3):
    n = draw(st.integers(1, max_legs))
    legs = []
    for i in range(n):
        lt = draw(thresholds)
        ltv = draw(st.floats(min_value=0, max_value=1)) * lt
        legs.append(risk.CollateralLeg(f"C{i}", draw(amounts), draw(prices), lt, ltv))
    debt_value = draw(st.floats(min_value=1.0, max_value=1e9))
    return risk.Exposure(tuple(legs), (risk.DebtLeg("USD", debt_value, 1.0),))


@given(exposures(), st.floats(min_value=0.01, max_value=0.99))
def test_health_falls_when_collateral_price_falls(e, drop):
    before = risk.health_factor(e)
    after = risk.health_factor(risk.stressed(e, {"C0": 1 - drop}))
    assert after <= before


@given(exposures(), st.floats(min_value=1.01, max_value=3.0))
def test_health_falls_when_debt_grows(e, growth):
    more = risk.Exposure(e.collateral, (risk.DebtLeg("USD", e.debt[0].amount * growth, 1.0),))
    assert risk.health_factor(more) < risk.health_factor(e)


@given(exposures())
def test_at_the_liquidation_price_health_is_one(e):
    lp = risk.liquidation_price(e, "C0")
    assume(lp is not None)
    at = risk.stressed(e, {"C0": lp.price / lp.current})
    assert risk.health_factor(at) == pytest.approx(1.0, rel=1e-6)


@given(exposures())
def test_no_liquidation_price_means_other_legs_cover_the_debt(e):
    lp = risk.liquidation_price(e, "C0")
    assume(lp is None)
    # even at a zero price for C0 the rest keeps HF >= 1
    assert risk.health_factor(risk.stressed(e, {"C0": 0.0})) >= 1 - 1e-9


@given(exposures())
def test_borrowing_the_full_capacity_lands_on_max_ltv(e):
    room = risk.capacity_to_max_ltv(e)
    assume(room > 0)
    after = risk.Exposure(e.collateral, (risk.DebtLeg("USD", e.debt[0].amount + room, 1.0),))
    assert risk.loan_to_value(after) == pytest.approx(risk.max_ltv(e), rel=1e-9)


@given(exposures(), st.floats(min_value=1.01, max_value=5.0))
def test_borrowing_to_a_target_health_lands_on_it(e, target):
    room = risk.capacity_to_health(e, target)
    assume(room > 0)
    after = risk.Exposure(e.collateral, (risk.DebtLeg("USD", e.debt[0].amount + room, 1.0),))
    assert risk.health_factor(after) == pytest.approx(target, rel=1e-9)


@given(exposures())
def test_capacity_to_health_one_is_at_least_capacity_to_max_ltv(e):
    # LTV <= LT for every asset, so the borrow limit is always reached before liquidation
    assert risk.capacity_to_health(e, 1.0) >= risk.capacity_to_max_ltv(e) - 1e-6


@given(exposures())
def test_health_and_ltv_agree(e):
    hf, ltv = risk.health_factor(e), risk.loan_to_value(e)
    assert hf == pytest.approx(risk.liquidation_threshold(e) / ltv, rel=1e-9)


@settings(max_examples=50)
@given(exposures(), st.floats(min_value=-0.99, max_value=0.0), st.floats(min_value=-0.99, max_value=0.0))
def test_stress_is_monotonic_in_the_size_of_the_drop(e, a, b):
    small, big = max(a, b), min(a, b)
    assert risk.health_factor(risk.stressed(e, {"C0": 1 + big})) <= risk.health_factor(risk.stressed(e, {"C0": 1 + small}))


def test_no_debt_is_infinitely_healthy():
    e = risk.Exposure((risk.CollateralLeg("ETH", 1, 3000, 0.8, 0.7),))
    assert risk.health_factor(e) == math.inf
    assert risk.liquidation_price(e, "ETH") is None
    assert risk.liquidation_cost(e, "close-factor") is None


@pytest.mark.parametrize("model", ["close-factor", "absorb", "auction", "whole-collateral", "stability-pool", "incentive", "close-loan"])
@settings(max_examples=60)
@given(e=exposures(), penalty=st.floats(min_value=0, max_value=0.2))
def test_a_liquidation_never_takes_more_than_the_collateral_nor_gives_back(model, e, penalty):
    e = risk.Exposure(tuple(replace(leg, penalty=penalty) for leg in e.collateral), e.debt)
    params = {"close_factor": "0.5", "full_close_below_hf": "0.95", "full_close_below_usd": "2000"}
    cost = risk.liquidation_cost(e, model, params)
    assert cost.seized <= risk.collateral_value(e) * (1 + 1e-9)
    assert cost.penalty >= 0 and cost.repaid <= risk.debt_value(e) * (1 + 1e-9)


# ---------------------------------------------------------------- exactly at the line, for every lender

PRESETS, REGISTRY = Presets.bundled(), AssetRegistry.bundled()
# (lender, market, collateral, debt, overrides): one position shape per lender
LENDERS = [("aave-v3", None, "WETH", "USDC", Overrides()), ("aave-v3", "eth-emode", "wstETH", "WETH", Overrides()),
           ("compound-v3", None, "WETH", "USDC", Overrides()), ("morpho", None, "WETH", "USDC", Overrides(lltv=Decimal("0.86"))),
           ("maker", "ETH-A", "WETH", "DAI", Overrides()), ("maker", "ETH-C", "WETH", "DAI", Overrides()),
           ("liquity-v1", None, "WETH", "LUSD", Overrides()), ("liquity-v2", "wstETH", "wstETH", "BOLD", Overrides()),
           ("nexo", None, "BTC", "USDC", Overrides()), ("ledn", None, "BTC", "USDC", Overrides())]


AMOUNTS = [Decimal(x) for x in ("0.125", "0.5", "1", "2", "4", "5", "8", "10", "25", "100", "1250")]  # divide any decimal exactly


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LENDERS), st.integers(1, 10**8), st.sampled_from(AMOUNTS))
def test_a_position_exactly_at_its_line_is_not_liquidatable_and_a_cent_more_is(lender, cents, amount):
    """Built in exact decimals, so the position is at its line to the last digit: the lender's weight (LT, LLTV,
    liquidation LTV) times the collateral value equals the debt, or the collateral value equals debt x mat."""
    protocol, market, coll, owed, overrides = lender
    terms = PRESETS.terms(protocol, market, [coll], [owed], overrides)
    if terms.min_ratio:  # Maker and Liquity: value = debt x mat, with a debt a user could type
        debt = Decimal(cents) / 100
        price = debt * Decimal(str(terms.min_ratio)) / amount
    else:  # a typed price, and the debt its weight makes exact
        price = Decimal(cents) / 100
        debt = amount * price * Decimal(repr(terms.collateral[coll].lt))
    snap = PriceSnapshot()
    snap.quotes[coll] = Quote(coll, float(price), "test", 0.0)
    snap.quotes[owed] = Quote(owed, 1.0, "test", 0.0)
    at = value(terms, (Leg(coll, amount),), (Leg(owed, debt),), snap, REGISTRY)
    assert at.hf == 1.0 and at.hf >= 1  # exactly 1: not below it
    more = value(terms, (Leg(coll, amount),), (Leg(owed, debt * (1 + Decimal("1e-6")) + Decimal("0.01")),), snap, REGISTRY)
    assert more.hf < 1
    ev = Evaluator()  # the warning tick's arrays say the same
    w = float(amount) * terms.collateral[coll].lt
    ev.put(1, [(coll, w)], [(owed, float(debt))], 1.5, 1.2)
    [decision] = ev.evaluate(0.0, {coll: float(price), owed: 1.0}) or [None]
    assert decision is None or decision.state.level < 3
