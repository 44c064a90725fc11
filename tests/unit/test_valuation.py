"""valuation.levels (CeFi margin calls onto health factors) and /whatif's price multipliers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.lending.models import Overrides, Severity
from core.lending.valuation import levels, severity_for, shock_multipliers


def terms(presets, protocol, coll, debt, **over):
    overrides = Overrides(**{k: Decimal(v) for k, v in over.items()})
    return presets.terms(protocol, None, coll, debt, overrides)


def test_defi_lenders_warn_at_1_5_and_1_2(presets):
    assert levels(terms(presets, "aave-v3", ["ETH"], ["USDC"])) == (1.5, 1.2)
    assert levels(terms(presets, "custom", ["BTC"], ["USD"], lt="0.8")) == (1.5, 1.2)  # no margin call given


def test_a_ladder_of_margin_calls_maps_first_and_last_onto_health_factors(presets):
    # Nexo: warnings at 71.4 / 74.1 / 76.9 %, liquidation at 83.3 %: HF = 83.3 / LTV
    warn, danger = levels(terms(presets, "nexo", ["BTC"], ["USD"]))
    assert warn == pytest.approx(0.833 / 0.714) and danger == pytest.approx(0.833 / 0.769)


def test_a_single_margin_call_warns_there_and_is_dangerous_halfway_to_liquidation(presets):
    # Ledn: margin call 70 %, liquidation 80 %: warning below HF 8/7, danger below 0.8 / 0.75
    ledn = terms(presets, "ledn", ["BTC"], ["USD"])
    warn, danger = levels(ledn)
    assert warn == pytest.approx(0.8 / 0.7) and danger == pytest.approx(0.8 / 0.75)
    assert levels(terms(presets, "custom", ["BTC"], ["USD"], ltv="0.5", lt="0.8", margin_ltv="0.7")) == (
        pytest.approx(warn), pytest.approx(danger))
    # LTV 65 % is fine, 70.5 % past the margin call, 76 % past halfway, 81 % liquidatable
    for ltv, expected in ((0.65, Severity.OK), (0.705, Severity.WARNING), (0.76, Severity.DANGER), (0.81, Severity.LIQUIDATABLE)):
        assert severity_for(0.8 / ltv, warn, danger) is expected, ltv
    # exactly at the margin-call LTV the health factor sits on the warning boundary
    assert pytest.approx(warn) == 0.8 / 0.7


def test_binance_example_pair(presets):
    warn, danger = levels(terms(presets, "binance-loan", ["BTC"], ["USDT"]))
    assert warn == pytest.approx(0.83 / 0.75) and danger == pytest.approx(0.83 / 0.79)


def moves(**kw):
    return {k: Decimal(v) for k, v in kw.items()}


def test_a_move_of_eth_moves_its_wrapped_and_staked_forms(registry):
    out = shock_multipliers({"ETH", "WETH", "stETH", "wstETH", "USDC", "BTC"}, moves(ETH="-0.3"), {}, {}, registry)
    assert out == {"ETH": pytest.approx(0.7), "WETH": pytest.approx(0.7), "stETH": pytest.approx(0.7), "wstETH": pytest.approx(0.7)}


def test_an_asset_named_itself_wins_over_its_family(registry):
    out = shock_multipliers({"WETH", "wstETH"}, moves(ETH="-0.3", wstETH="-0.5"), {}, {}, registry)
    assert out == {"WETH": pytest.approx(0.7), "wstETH": pytest.approx(0.5)}


def test_all_moves_every_non_stable_asset_unless_named(registry):
    assets = {"BTC", "WBTC", "ETH", "SOL", "USDC", "DAI"}
    out = shock_multipliers(assets, moves(ALL="-0.5", BTC="-0.2"), {}, {}, registry)
    assert out == {"BTC": pytest.approx(0.8), "WBTC": pytest.approx(0.8), "ETH": pytest.approx(0.5), "SOL": pytest.approx(0.5)}


def test_a_target_price_becomes_the_ratio_to_today_s(registry):
    prices = {"ETH": 3000.0, "wstETH": 3600.0, "SOL": 150.0}
    out = shock_multipliers({"ETH", "wstETH", "SOL"}, {}, prices, moves(ETH="1500", SOL="120"), registry)
    # ETH to $1,500 halves wstETH too (its own price is not the one the target names)
    assert out == {"ETH": pytest.approx(0.5), "wstETH": pytest.approx(0.5), "SOL": pytest.approx(0.8)}
    # without today's price a target cannot become a ratio: the asset is left alone
    assert shock_multipliers({"SOL"}, {}, {}, moves(SOL="120"), registry) == {}
