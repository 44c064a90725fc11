"""docs/lending.md's worked examples A-H, through the shipped presets and the pure risk math."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.chat import views
from core.lending import risk
from core.lending.models import Leg, Overrides, PriceSnapshot, Quote
from core.lending.valuation import value

PRICES = {"ETH": 3000.0, "WETH": 3000.0, "WBTC": 60000.0, "BTC": 100000.0, "USDC": 1.0, "DAI": 1.0, "LUSD": 1.0, "USD": 1.0}


def valued(registry, presets, protocol, collateral, debt, market=None, overrides=Overrides(), prices=PRICES):
    coll = tuple(Leg(a, Decimal(str(x))) for a, x in collateral)
    owed = tuple(Leg(a, Decimal(str(x))) for a, x in debt)
    terms = presets.terms(protocol, market, [c.asset for c in coll], [d.asset for d in owed], overrides)
    snap = PriceSnapshot({a: Quote(a, p, "test", 0) for a, p in prices.items()})
    return value(terms, coll, owed, snap, registry)


def test_a_aave_single_collateral(registry, presets):
    v = valued(registry, presets, "aave-v3", [("ETH", 10)], [("USDC", 15000)])
    e = v.exposure
    assert risk.collateral_value(e) == pytest.approx(30000)
    assert risk.loan_to_value(e) == pytest.approx(0.5)
    assert risk.health_factor(e) == pytest.approx(1.66)
    assert risk.capacity_to_max_ltv(e) == pytest.approx(9150)
    lp = risk.liquidation_price(e, "ETH")
    assert lp.price == pytest.approx(1807.23, abs=0.005)
    assert -lp.distance == pytest.approx(0.3976, abs=0.00005)
    assert risk.health_factor(risk.stressed(e, {"ETH": 1800 / 3000})) == pytest.approx(0.996)
    assert risk.capacity_to_health(e, 1.5) == pytest.approx(1600)


def test_b_aave_two_collaterals(registry, presets):
    v = valued(registry, presets, "aave-v3", [("ETH", 10), ("WBTC", 0.5)], [("USDC", 30000)])
    e = v.exposure
    assert risk.liquidation_threshold(e) == pytest.approx(0.805)
    assert risk.health_factor(e) == pytest.approx(1.61)
    assert risk.capacity_to_max_ltv(e) == pytest.approx(16050)
    assert risk.liquidation_price(e, "ETH").price == pytest.approx(795.18, abs=0.005)


def test_c_compound(registry, presets):
    e = valued(registry, presets, "compound-v3", [("WETH", 10)], [("USDC", 15000)]).exposure
    assert risk.borrowing_power(e) == pytest.approx(24750)
    assert risk.capacity_to_max_ltv(e) == pytest.approx(9750)
    assert risk.liquidation_price(e, "WETH").price == pytest.approx(1675.98, abs=0.005)


def test_d_maker_eth_a(registry, presets):
    v = valued(registry, presets, "maker", [("ETH", 10)], [("DAI", 10000)])
    assert v.terms.market.id == "ETH-A"
    e = v.exposure
    assert 1 / risk.loan_to_value(e) == pytest.approx(3.0)
    assert risk.liquidation_price(e, "ETH").price == pytest.approx(1450)
    assert risk.borrowing_power(e) == pytest.approx(20689.66, abs=0.005)


def test_e_liquity_v1_composite_debt(registry, presets):
    # 15,000 LUSD net at a 0.5 % fee plus the 200 LUSD gas reserve (the service books this on /add)
    v = valued(registry, presets, "liquity-v1", [("ETH", 10)], [("LUSD", 15275)])
    e = v.exposure
    assert 1 / risk.loan_to_value(e) == pytest.approx(1.9640, abs=0.00005)
    assert risk.liquidation_price(e, "ETH").price == pytest.approx(1680.25)


def test_f_morpho(registry, presets):
    v = valued(registry, presets, "morpho", [("WETH", 10)], [("USDC", 15000)], overrides=Overrides(lltv=Decimal("0.86")))
    e = v.exposure
    assert risk.borrowing_power(e) == pytest.approx(25800)
    assert risk.health_factor(e) == pytest.approx(1.72)
    assert risk.liquidation_price(e, "WETH").price == pytest.approx(1744.19, abs=0.005)
    # incentive = min(1.15, 1 / (1 - 0.3 * (1 - 0.86)))
    assert v.terms.collateral["WETH"].penalty == pytest.approx(1 / (1 - 0.3 * 0.14) - 1)


def test_g_ledn(registry, presets):
    v = valued(registry, presets, "ledn", [("BTC", 0.2)], [("USD", 10000)])
    e = v.exposure
    assert risk.loan_to_value(e) == pytest.approx(0.5)
    assert risk.liquidation_price(e, "BTC").price == pytest.approx(62500)
    [(m, margin)] = v.margin_prices("BTC")
    assert m == pytest.approx(0.70)
    assert margin.price == pytest.approx(71428.57, abs=0.005)


def test_h_stress(registry, presets):
    e = valued(registry, presets, "aave-v3", [("ETH", 10)], [("USDC", 15000)]).exposure
    assert risk.health_factor(risk.stressed(e, {"ETH": 0.7})) == pytest.approx(1.162)
    after = risk.health_factor(risk.stressed(e, {"ETH": 0.6}))
    assert after == pytest.approx(0.996)
    assert after < 1


def test_volatile_debt_liquidates_when_it_rises(registry, presets):
    # wstETH collateral against WETH debt in e-mode: the debt side can trigger liquidation too
    prices = {**PRICES, "wstETH": 3600.0}
    v = valued(registry, presets, "aave-v3", [("wstETH", 10)], [("WETH", 8)], market="emode", prices=prices)
    e = v.exposure
    lp = risk.liquidation_price(e, "WETH")
    assert not lp.falling
    assert lp.price == pytest.approx(10 * 3600 * 0.95 / 8)
    assert risk.health_factor(risk.stressed(e, {"WETH": lp.price / 3000})) == pytest.approx(1.0)


def test_liquidation_cost_aave_vector_a(registry, presets):
    v = valued(registry, presets, "aave-v3", [("ETH", 10)], [("USDC", 15000)])
    cost = v.liquidation_cost()
    assert cost.repaid == pytest.approx(7500)  # close factor 50 % while HF > 0.95
    assert cost.penalty == pytest.approx(375)  # 5 % bonus on what is repaid


def test_liquidation_cost_small_aave_position_closes_fully(registry, presets):
    v = valued(registry, presets, "aave-v3", [("ETH", 1)], [("USDC", 1500)])
    assert v.liquidation_cost().full
    assert v.liquidation_cost().repaid == pytest.approx(1500)


def test_liquidation_cost_maker_and_liquity(registry, presets):
    maker = valued(registry, presets, "maker", [("ETH", 10)], [("DAI", 10000)]).liquidation_cost()
    assert maker.penalty == pytest.approx(1300)
    liquity = valued(registry, presets, "liquity-v1", [("ETH", 10)], [("LUSD", 15275)]).liquidation_cost()
    assert liquity.penalty == pytest.approx(1527.5)
    assert liquity.seized == pytest.approx(16802.5)


def test_an_overridden_lt_moves_the_collateral_ratio_floor_with_the_health_factor(registry, presets):
    prices = {**PRICES, "WBTC": 60000.0}
    v = valued(registry, presets, "maker", [("WBTC", 1)], [("DAI", 20000)], overrides=Overrides(lt=Decimal("0.6")), prices=prices)
    assert v.terms.market.id == "WBTC-A"
    # CR 300 % against a floor of 1 / 0.6 = 166.7 %: HF = 3 / 1.6667 = 1.80
    assert v.hf == pytest.approx(1.8)
    text = " ".join(line.value for line in views.health(v).lines)
    assert "liquidation below 166.7%" in text and "1.80" in text
