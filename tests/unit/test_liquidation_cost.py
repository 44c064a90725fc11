"""What a liquidation takes under each lender's rule, against numbers worked out by hand.

Above HF 1 the figures are taken where HF first reaches 1 (collateral worth debt / weighted LT);
already below 1 they are taken at today's values, so nothing seizes more collateral than there is.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.chat import help, views
from core.lending import risk
from core.lending.models import Leg, Overrides, PriceSnapshot, Quote
from core.lending.valuation import value

AAVE = {"model": "close-factor", "close_factor": "0.5", "full_close_below_hf": "0.95", "full_close_below_usd": "2000"}


def eth(amount, price, lt=0.83, penalty=0.05, asset="WETH"):
    return risk.CollateralLeg(asset, amount, price, lt, lt, penalty)


def owes(*values):
    names = ("USDC", "USDT", "DAI")
    return tuple(risk.DebtLeg(names[i], v, 1.0) for i, v in enumerate(values))


def cost(collateral, debt, model, params=None):
    e = risk.Exposure(tuple(collateral), owes(*debt))
    return risk.liquidation_cost(e, model, params)


def expect(c, repaid, seized, penalty, full, bonus):
    assert (c.repaid, c.seized, c.penalty) == (pytest.approx(repaid), pytest.approx(seized), pytest.approx(penalty))
    assert c.full is full
    assert c.bonus == (pytest.approx(bonus) if bonus is not None else None)


# ---------------------------------------------------------------- Aave v3: close factor


def test_aave_at_the_liquidation_point_half_the_debt_for_a_5_percent_bonus():
    # vector A: 7,500 of 15,000 repaid, 7,875 taken, 375 lost
    expect(cost([eth(10, 3000)], [15000], "close-factor", AAVE), 7500, 7875, 375, False, 0.05)


def test_aave_above_hf_095_still_half():
    # 10 ETH at 1,940: HF = 16,102 / 16,600 = 0.97 -> 50 %: 8,300 repaid, 8,715 taken
    c = cost([eth(10, 1940)], [16600], "close-factor", AAVE)
    expect(c, 8300, 8715, 415, False, 0.05)


def test_aave_at_or_below_hf_095_all_of_it():
    # 10 ETH at 1,770: HF = 14,691 / 16,600 = 0.885 -> 100 %: 16,600 repaid, 17,430 of 17,700 taken
    c = cost([eth(10, 1770)], [16600], "close-factor", AAVE)
    expect(c, 16600, 17430, 830, True, 0.05)


def test_aave_under_water_repays_only_what_the_collateral_covers():
    # 10 ETH at 1,000 against 13,833.33 (HF 0.6): all 10,000 of collateral for 10,000 / 1.05 of debt
    c = cost([eth(10, 1000)], [8300 / 0.6], "close-factor", AAVE)
    expect(c, 10000 / 1.05, 10000, 10000 - 10000 / 1.05, True, 0.05)


def test_aave_small_reserve_closes_fully():
    # debt 1,500 < $2,000: 100 % whatever the HF
    expect(cost([eth(1, 3000)], [1500], "close-factor", AAVE), 1500, 1575, 75, True, 0.05)


def test_aave_close_factor_is_half_the_total_debt_at_most_that_reserve():
    # 9,000 USDC + 3,000 USDT: 50 % of 12,000 = 6,000, within the USDC reserve
    expect(cost([eth(10, 3000)], [9000, 3000], "close-factor", AAVE), 6000, 6300, 300, False, 0.05)
    # 5,000 + 5,000 + 2,000: half the total (6,000) exceeds the largest reserve, so 5,000
    expect(cost([eth(10, 3000)], [5000, 5000, 2000], "close-factor", AAVE), 5000, 5250, 250, False, 0.05)


def test_aave_bonus_is_the_largest_collateral_legs():
    # 30,000 WETH (5 %) + 7,000 wstETH (6 %), debt 20,000: WETH is taken first, at its 5 %
    legs = [eth(10, 3000), eth(2, 3500, lt=0.81, penalty=0.06, asset="wstETH")]
    expect(cost(legs, [20000], "close-factor", AAVE), 10000, 10500, 500, False, 0.05)


def test_aave_unknown_bonus_is_unknown_not_zero():
    legs = [eth(100, 20, lt=0.7, penalty=None, asset="LINK"), eth(0.1, 3000)]
    c = cost(legs, [1000], "close-factor", AAVE)
    assert c.bonus is None and c.seized is None and c.penalty is None


# ---------------------------------------------------------------- Compound v3: absorb


def test_compound_absorbs_everything_at_the_liquidation_point():
    # vector C: collateral 15,000 / 0.895 = 16,759.78, credited at 0.95; 5 % of it is lost
    at = 15000 / 0.895
    expect(cost([eth(10, 3000, lt=0.895)], [15000], "absorb"), 15000, at, at * 0.05, True, 0.05)


def test_compound_under_water_credits_the_excess_back():
    # 16,000 of WETH (HF 0.955): credit 15,200, of which 200 over the debt stays the user's -> 800 lost
    expect(cost([eth(10, 1600, lt=0.895)], [15000], "absorb"), 15000, 16000, 800, True, 0.05)
    # 14,000 of WETH against 15,000: all of it goes, the shortfall is the protocol's -> nothing more lost
    expect(cost([eth(10, 1400, lt=0.895)], [15000], "absorb"), 15000, 14000, 0, True, 0.05)


# ---------------------------------------------------------------- Maker: auction


def test_maker_auction():
    mat = 1 / 1.45
    # vector D: 14,500 of collateral at CR 145 %; the auction takes 10,000 + 13 %
    expect(cost([eth(10, 3000, lt=mat, penalty=0.13)], [10000], "auction"), 10000, 11300, 1300, True, 0.13)
    # CR 110 %: all 11,000 goes, 1,000 lost; CR 80 %: all 8,000 goes, nothing more lost
    expect(cost([eth(10, 1100, lt=mat, penalty=0.13)], [10000], "auction"), 10000, 11000, 1000, True, 0.13)
    expect(cost([eth(10, 800, lt=mat, penalty=0.13)], [10000], "auction"), 10000, 8000, 0, True, 0.13)


# ---------------------------------------------------------------- Liquity v1: whole collateral


def test_liquity_v1_takes_the_whole_collateral():
    mcr = 1 / 1.1
    # vector E: at ICR 110 % the collateral is 16,802.50 for a 15,275 debt
    expect(cost([eth(10, 3000, lt=mcr, penalty=None)], [15275], "whole-collateral"), 15275, 16802.5, 1527.5, True, None)
    # ICR 104.7 %: all 16,000 goes
    expect(cost([eth(10, 1600, lt=mcr, penalty=None)], [15275], "whole-collateral"), 15275, 16000, 725, True, None)


def test_liquity_v1_under_water_never_seizes_more_than_there_is():
    # HF 0.595: $10,000 of collateral, not the $16,802 it would be worth at 110 %
    c = cost([eth(10, 1000, lt=1 / 1.1, penalty=None)], [15275], "whole-collateral")
    expect(c, 15275, 10000, 0, True, None)


# ---------------------------------------------------------------- Liquity v2: stability pool


def test_liquity_v2_penalty_plus_gas_compensation():
    p = {"model": "stability-pool", "collateral_gas_compensation": "0.005"}
    leg = dict(lt=1 / 1.1, penalty=0.05)
    # at ICR 110 %: collateral 11,000; 10,000 + 5 % + 0.5 % of 11,000 = 10,555 taken
    expect(cost([eth(10, 3000, **leg)], [10000], "stability-pool", p), 10000, 10555, 555, True, 0.05)
    # ICR 102 %: 10,200 of collateral, less than 10,551: all of it, 200 lost
    expect(cost([eth(10, 1020, **leg)], [10000], "stability-pool", p), 10000, 10200, 200, True, 0.05)
    # ICR 90 %: all 9,000
    expect(cost([eth(10, 900, **leg)], [10000], "stability-pool", p), 10000, 9000, 0, True, 0.05)


# ---------------------------------------------------------------- Morpho: incentive


def test_morpho_incentive():
    bonus = 1 / (1 - 0.3 * (1 - 0.86)) - 1  # 4.3841 %
    leg = dict(lt=0.86, penalty=bonus)
    # vector F: 15,000 repaid for 15,000 * 1.043841 = 15,657.62
    expect(cost([eth(10, 3000, **leg)], [15000], "incentive"), 15000, 15000 * (1 + bonus), 15000 * bonus, True, bonus)
    # HF 0.86: the 15,000 of collateral covers 15,000 * 0.958 = 14,370 of debt at the incentive
    expect(cost([eth(10, 1500, **leg)], [15000], "incentive"), 14370, 15000, 630, True, bonus)


# ---------------------------------------------------------------- CeFi


def test_nexo_partial_rebalance_has_no_fee_and_no_fixed_size():
    c = cost([eth(0.2, 100000, lt=0.833, penalty=None, asset="BTC")], [10000], "partial-rebalance", {"penalty": "0"})
    expect(c, None, None, 0, False, 0)
    assert cost([eth(0.2, 100000, lt=0.833, penalty=None, asset="BTC")], [10000], "partial-rebalance").penalty is None


def test_close_loan_with_and_without_a_penalty():
    btc = dict(lt=0.8, asset="BTC")
    # Ledn publishes no fee: the loan is repaid, the cost is unknown
    expect(cost([eth(0.2, 100000, penalty=None, **btc)], [10000], "close-loan"), 10000, None, None, True, None)
    # custom 5 %: 500 on the 10,000 debt, out of 12,500 of collateral at LTV 80 %
    expect(cost([eth(0.2, 100000, penalty=0.05, **btc)], [10000], "custom"), 10000, 10500, 500, True, 0.05)
    # 10,200 left: the fee can only take the 200 over the debt; 9,000 left: 9,000 repaid, nothing more
    expect(cost([eth(0.2, 51000, penalty=0.05, **btc)], [10000], "custom"), 10000, 10200, 200, True, 0.05)
    expect(cost([eth(0.2, 45000, penalty=0.05, **btc)], [10000], "custom"), 9000, 9000, 0, True, 0.05)


def test_unknown_model_and_no_debt():
    assert cost([eth(10, 3000)], [15000], "barter") is None
    assert risk.liquidation_cost(risk.Exposure((eth(10, 3000),)), "absorb") is None


# ---------------------------------------------------------------- through the presets and the wording


def valued(registry, presets, protocol, collateral, debt, prices, overrides=Overrides()):
    coll = tuple(Leg(a, Decimal(str(x))) for a, x in collateral)
    owed = tuple(Leg(a, Decimal(str(x))) for a, x in debt)
    terms = presets.terms(protocol, None, [c.asset for c in coll], [d.asset for d in owed], overrides)
    snap = PriceSnapshot({a: Quote(a, p, "test", 0) for a, p in prices.items()})
    return value(terms, coll, owed, snap, registry)


def said(section) -> str:
    return " ".join(line.value for line in section.lines)


def test_the_bonus_shown_is_the_one_the_figure_used(registry, presets):
    prices = {"WETH": 3000.0, "wstETH": 3500.0, "USDC": 1.0}
    v = valued(registry, presets, "aave-v3", [("WETH", 10), ("wstETH", 2)], [("USDC", 20000)], prices)
    text = said(views.liquidation_cost(v))
    assert "$500.00 lost to the 5.0% bonus" in text and "6.0%" not in text


def test_aave_preset_closes_fully_at_hf_0885(registry, presets):
    v = valued(registry, presets, "aave-v3", [("ETH", 10)], [("USDC", 16600)], {"ETH": 1770.0, "USDC": 1.0})
    assert v.hf == pytest.approx(0.885)
    assert v.liquidation_cost().repaid == pytest.approx(16600)
    assert "(100% of the debt)" in said(views.liquidation_cost(v))


def test_liquity_v1_answer_says_today_s_prices_when_under_water(registry, presets):
    v = valued(registry, presets, "liquity-v1", [("ETH", 10)], [("LUSD", 15275)], {"ETH": 1000.0, "LUSD": 1.0})
    text = said(views.liquidation_cost(v))
    assert "about $10,000.00 at today's prices" in text


def test_liquity_v1_mentions_recovery_mode_in_the_answer_and_in_protocols(registry, presets):
    v = valued(registry, presets, "liquity-v1", [("ETH", 10)], [("LUSD", 15275)], {"ETH": 3000.0, "LUSD": 1.0})
    text = said(views.liquidation_cost(v))
    assert "recovery mode" in text and "below 150%" in text and "even above 110%" in text
    assert "at the liquidation price" in text
    v2 = valued(registry, presets, "liquity-v2", [("WETH", 10)], [("BOLD", 15000)], {"WETH": 3000.0, "BOLD": 1.0})
    assert "recovery mode" not in said(views.liquidation_cost(v2))  # v2 has no recovery-mode liquidations
    page = {line.label: line.value for section in help.preset_detail(presets.get("liquity-v1")).sections for line in section.lines}
    assert "below 150%" in page["Recovery mode"]
    v2_page = {line.label: line.value for section in help.preset_detail(presets.get("liquity-v2")).sections for line in section.lines}
    assert v2_page["Interest rate"] == "set by you, 0.5% to 250% a year"
