"""The shipped presets and asset registry: dated, sourced, consistent, and resolved as a user expects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import UnknownAsset, UnknownProtocol, UnsupportedByProtocol
from core.lending.models import Overrides

EXPECTED = {"aave-v3", "compound-v3", "maker", "liquity-v1", "liquity-v2", "morpho", "nexo", "ledn", "binance-loan", "custom"}


def test_every_issue_preset_ships(presets):
    assert {p.id for p in presets} == EXPECTED


def test_every_parameter_carries_a_date_and_a_source(presets):
    for preset in presets:
        for market in preset.markets:
            assert market.as_of and market.source, (preset.id, market.id)
            for symbol, terms in (market.collateral or {}).items():
                assert terms.as_of and terms.source, (preset.id, market.id, symbol)
        # the liquidation rule's own numbers (close factor, incentive cursor, gas compensation, penalty)
        assert preset.liquidation.get("model"), preset.id
        assert preset.liquidation.get("as_of") and preset.liquidation.get("source"), (preset.id, "liquidation")


def test_preset_assets_are_in_the_registry(presets, registry):
    for preset in presets:
        for market in preset.markets:
            for symbol in list(market.collateral or {}) + list(market.debt or ()):
                assert symbol in registry, (preset.id, symbol)
        for alias, target in preset.asset_aliases.items():
            assert alias in registry and target in registry


def test_registry_ids_and_aliases(registry):
    assert registry.lookup("eth").symbol == "ETH"
    assert registry.lookup("STETH").symbol == "stETH"
    assert registry.lookup("wsteth").symbol == "wstETH"
    assert registry.lookup("xbt").symbol == "BTC"
    assert registry.get("WETH").id_for("coingecko") == "weth"
    assert registry.family("wstETH") == "ETH" and registry.family("WBTC") == "BTC"
    with pytest.raises(UnknownAsset):
        registry.lookup("DOGGO")


def terms(presets, protocol, coll, debt=(), market=None, **over):
    overrides = Overrides(**{k: Decimal(v) for k, v in over.items()})
    return presets.terms(protocol, market, list(coll), list(debt), overrides)


def test_market_is_chosen_by_collateral(presets):
    assert terms(presets, "maker", ["ETH"], ["DAI"]).market.id == "ETH-A"
    assert terms(presets, "maker", ["WBTC"], ["DAI"]).market.id == "WBTC-A"
    assert terms(presets, "maker", ["BTC"], ["DAI"]).market.id == "WBTC-A"
    assert terms(presets, "liquity-v2", ["wstETH"], ["BOLD"]).min_ratio == pytest.approx(1.2)
    assert terms(presets, "maker", ["ETH"], ["DAI"], market="eth-c").min_ratio == pytest.approx(1.7)


def test_an_lt_override_adjusts_the_market_of_the_collateral_it_does_not_pick_one(presets):
    maker = terms(presets, "maker", ["WBTC"], ["DAI"], lt="0.6")
    assert maker.market.id == "WBTC-A" and maker.market.params["min_debt"] == "7500"
    assert maker.collateral["WBTC"].lt == pytest.approx(0.6)
    # the CR floor shown (and used for CR targets and alerts) is the one the health factor uses
    assert maker.min_ratio == pytest.approx(1 / 0.6)
    liquity = terms(presets, "liquity-v2", ["rETH"], ["BOLD"], lt="0.7")
    assert liquity.market.id == "rETH" and liquity.min_ratio == pytest.approx(1 / 0.7)
    assert terms(presets, "liquity-v2", ["rETH"], ["BOLD"]).min_ratio == pytest.approx(1.2)


def test_an_unlisted_asset_with_lt_goes_to_the_main_pool_or_asks_for_a_market(presets):
    assert terms(presets, "aave-v3", ["LINK"], ["USDC"], lt="0.7").market.id == "core"
    with pytest.raises(UnsupportedByProtocol, match="name the market"):
        terms(presets, "maker", ["SOL"], ["DAI"], lt="0.6")
    named = terms(presets, "maker", ["SOL"], ["DAI"], market="ETH-C", lt="0.5")
    assert named.market.id == "ETH-C" and named.min_ratio == pytest.approx(2.0)


def test_aave_emode_by_alias(presets):
    t = terms(presets, "aave-v3", ["wstETH"], ["WETH"], market="emode")
    assert t.collateral["wstETH"].lt == pytest.approx(0.95) and t.collateral["wstETH"].ltv == pytest.approx(0.93)


def test_dai_counts_for_health_but_not_for_borrowing_on_aave(presets):
    t = terms(presets, "aave-v3", ["DAI"], ["USDC"])
    assert t.collateral["DAI"].ltv == 0 and t.collateral["DAI"].lt == pytest.approx(0.77)


def test_compound_wbtc_uses_the_2024_governance_values(presets):
    t = terms(presets, "compound-v3", ["WBTC"], ["USDC"])
    assert (t.collateral["WBTC"].ltv, t.collateral["WBTC"].lt) == (pytest.approx(0.80), pytest.approx(0.85))
    assert t.collateral["WBTC"].as_of == "2024-02"


def test_cefi_ladders(presets):
    nexo = terms(presets, "nexo", ["BTC"], ["USD"])
    assert nexo.margin_ltvs == (pytest.approx(0.714), pytest.approx(0.741), pytest.approx(0.769))
    assert nexo.liquidation_ltv == pytest.approx(0.833)
    ledn = terms(presets, "ledn", ["BTC"], ["USDC"])
    assert ledn.collateral["BTC"].ltv == pytest.approx(0.5) and ledn.collateral["BTC"].lt == pytest.approx(0.8)


def test_overrides_replace_preset_values(presets):
    t = terms(presets, "aave-v3", ["ETH"], ["USDC"], lt="0.80")
    assert t.collateral["ETH"].lt == pytest.approx(0.80) and t.collateral["ETH"].ltv == pytest.approx(0.80)
    t = terms(presets, "aave-v3", ["LINK"], ["USDC"], lt="0.7", ltv="0.6")  # unlisted asset with explicit terms
    assert t.collateral["LINK"].lt == pytest.approx(0.7)
    t = terms(presets, "custom", ["BTC"], ["USD"], ltv="0.5", lt="0.8", margin_ltv="0.7")
    assert t.margin_ltvs == (pytest.approx(0.7),)


def test_any_override_is_dated_and_sourced_as_yours(presets):
    zero = terms(presets, "aave-v3", ["ETH"], ["USDC"], ltv="0")  # Decimal(0) is falsy but given
    assert zero.collateral["ETH"].ltv == 0 and zero.collateral["ETH"].lt == pytest.approx(0.83)
    assert (zero.collateral["ETH"].as_of, zero.collateral["ETH"].source) == ("set by you", "your override")
    penalty = terms(presets, "aave-v3", ["ETH"], ["USDC"], penalty="0.07")
    assert penalty.collateral["ETH"].penalty == pytest.approx(0.07)
    assert penalty.collateral["ETH"].source == "your override"
    untouched = terms(presets, "aave-v3", ["ETH"], ["USDC"])
    assert untouched.collateral["ETH"].as_of == "2026-02"
    unlisted = terms(presets, "aave-v3", ["LINK"], ["USDC"], lt="0.7", ltv="0")
    assert unlisted.collateral["LINK"].ltv == 0  # not replaced by lt because 0 is falsy


@pytest.mark.parametrize(
    "protocol, coll, debt, over",
    [
        ("compound-v3", ["SOL"], ["USDC"], {}),
        ("compound-v3", ["WETH"], ["DAI"], {}),
        ("maker", ["ETH", "WBTC"], ["DAI"], {}),
        ("morpho", ["WETH"], ["USDC"], {}),
        ("morpho", ["WETH"], ["USDC"], {"lltv": "0.5"}),
        ("custom", ["BTC"], ["USD"], {}),
        ("custom", ["BTC"], ["USD"], {"ltv": "0.9", "lt": "0.8"}),
        ("ledn", ["SOL"], ["USD"], {}),
        ("liquity-v1", ["ETH"], ["DAI"], {}),
    ],
)
def test_combinations_a_lender_does_not_offer(presets, protocol, coll, debt, over):
    with pytest.raises(UnsupportedByProtocol):
        terms(presets, protocol, coll, debt, **over)


def test_unknown_lender(presets):
    with pytest.raises(UnknownProtocol):
        presets.get("nowhere")
