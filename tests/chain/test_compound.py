"""/track on real Compound v3 (Comet, compiled from compound-finance/comet) at cUSDCv3's Ethereum address."""

from __future__ import annotations

import pytest

from tests.chain.comet_market import ARTIFACTS


def comet_hf(comet, who) -> float:
    """isLiquidatable's sums, from the contract: Σ collateral × price × liquidate factor / borrowed × base price."""
    ext = comet.chain.at(ARTIFACTS["CometExt"], comet.comet.address)
    borrowed = comet.comet.call("borrowBalanceOf", who) * comet.comet.call("getPrice", comet.feeds["USDC"].address) // 10**6
    weighted = 0
    for i in range(comet.comet.call("numAssets")):
        _, asset, feed, scale, _, lcf, _, _ = comet.comet.call("getAssetInfo", i)
        weighted += ext.call("collateralBalanceOf", who, asset) * comet.comet.call("getPrice", feed) // scale * lcf // 10**18
    return weighted / borrowed


async def test_track_reads_comets_own_sums(rig):
    wallet = rig.node.chain.accounts[6]
    rig.node.market.comet.supply(wallet, "WETH", 10)
    rig.node.market.comet.supply(wallet, "WBTC", 0.5)
    rig.node.market.comet.borrow(wallet, 20_000)
    _, text = await rig.say(f"/track {wallet} on compound-v3")
    expected = comet_hf(rig.node.market.comet, wallet)
    assert "1 position added" in text and f"HF {expected:.6f} (the lender's own)" in text, text
    _, health = await rig.say("/health 1")
    assert "Compound v3" in health and "10 WETH" in health and "0.5 WBTC" in health and "20,000 USDC" in health


async def test_a_year_of_interest_and_a_price_fall_reach_the_owner(rig):
    wallet = rig.node.chain.accounts[6]
    rig.node.market.comet.supply(wallet, "WETH", 10)
    rig.node.market.comet.borrow(wallet, 15_000)
    await rig.say(f"/track {wallet}")  # every lender: it is found on Compound
    rig.node.chain.travel(365 * 86400)
    await rig.tick()
    link = next(x for x in rig.store.chain_links() if x.lender == "compound-v3")
    assert link.reading["debt_usd"] > 15_100
    assert link.reading["hf"] == pytest.approx(comet_hf(rig.node.market.comet, wallet), rel=1e-9)
    rig.node.market.comet.set_price("WETH", 1_600)  # Comet's feed falls; the market feed still says $3,000
    rig.node.chain.mine()
    await rig.tick()
    assert rig.node.market.comet.comet.call("isLiquidatable", wallet)  # the contract agrees
    texts = rig.pending_text()
    assert len(texts) == 1 and "Compound v3" in texts[0] and "can be liquidated now" in texts[0], texts


async def test_collateral_added_in_the_wallet_is_found_on_the_next_tick(rig):
    wallet = rig.node.chain.accounts[6]
    rig.node.market.comet.supply(wallet, "WETH", 10)
    rig.node.market.comet.borrow(wallet, 15_000)
    await rig.say(f"/track {wallet} on compound-v3")
    rig.node.market.comet.supply(wallet, "WBTC", 1)  # an asset the last reading did not hold
    rig.node.chain.mine()
    await rig.tick()
    _, health = await rig.say("/health 1")
    assert "1 WBTC" in health and f"{comet_hf(rig.node.market.comet, wallet):.6f}" in health
