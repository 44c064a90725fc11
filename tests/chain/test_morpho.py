"""/track on the real Morpho Blue contract (npm @morpho-org/morpho-blue 1.0.0) at its Ethereum address."""

from __future__ import annotations

import pytest

from tests.chain.morpho_market import WAD, market_id


def contract_hf(blue, params, who) -> float:
    """isHealthy's own arithmetic, read from the contract's state: collateral * price * LLTV / borrowed."""
    mid = bytes.fromhex(market_id(params)[2:])
    blue.morpho.send("accrueInterest", params)
    _, shares, collateral = blue.morpho.call("position", mid, who)
    _, _, assets, total_shares, _, _ = blue.morpho.call("market", mid)
    owed = -(-shares * (assets + 1) // (total_shares + 10**6))
    price = blue.usdc_oracle.call("price") if params == blue.usdc else 118 * 10**34
    return collateral * price // 10**36 * params[4] // WAD / owed


async def test_a_market_given_by_id_reads_the_contracts_own_health(rig):
    wallet = rig.node.chain.accounts[4]
    rig.node.market.blue.borrow(wallet, rig.node.market.blue.usdc, 10, 15_000)
    _, text = await rig.say(f"/track {wallet} on morpho {market_id(rig.node.market.blue.usdc)}")
    expected = contract_hf(rig.node.market.blue, rig.node.market.blue.usdc, wallet)
    assert "1 position added" in text and f"HF {expected:.6f} (the lender's own)" in text, text
    assert f"{expected:.6f}" == "1.720000"  # 10 WETH at $3,000 x 86 % / 15,000
    _, health = await rig.say("/health 1")
    assert "Morpho Blue" in health and "10 WETH" in health and "15,000 USDC" in health


async def test_the_bundled_markets_are_searched_when_no_id_is_given(rig):
    wallet = rig.node.chain.accounts[4]
    rig.node.market.blue.borrow(wallet, rig.node.market.blue.lst, 10, 9)  # wstETH/WETH at 94.5 %: Ethereum's real market id
    _, text = await rig.say(f"/track {wallet} on morpho")
    assert "1 position added" in text, text
    link = rig.store.chain_links()[0]
    assert link.market_ref == "0xc54d7acf14de29e0e5527cabd7a576506870346a78a11a6762e2cca66322ec41"
    assert link.reading["hf"] == pytest.approx(10 * 1.18 * 0.945 / 9, rel=1e-6)


async def test_interest_accrues_the_oracle_falls_and_the_warning_comes(rig):
    wallet = rig.node.chain.accounts[4]
    rig.node.market.blue.borrow(wallet, rig.node.market.blue.usdc, 10, 20_000)
    await rig.say(f"/track {wallet} on morpho {market_id(rig.node.market.blue.usdc)}")
    rig.node.chain.travel(30 * 86400)
    await rig.tick()
    link = rig.store.chain_links()[0]
    assert link.reading["debt_usd"] > 20_000  # a month of interest, accrued in the same aggregate3
    assert link.reading["hf"] == pytest.approx(contract_hf(rig.node.market.blue, rig.node.market.blue.usdc, wallet), rel=1e-9)
    assert rig.pending_text() == []
    rig.node.market.blue.set_usdc_price(2_300)  # Morpho's oracle falls; the market feed still says $3,000
    rig.node.chain.mine()
    await rig.tick()
    texts = rig.pending_text()
    assert len(texts) == 1 and "Morpho Blue" in texts[0] and "health factor 0.98" in texts[0], texts


async def test_an_unknown_market_id_is_said_plainly(rig):
    _, text = await rig.say(f"/track {rig.node.chain.accounts[4]} on morpho 0x{'ab' * 32}")
    assert "no Morpho Blue market has the id 0xabababab" in text
    _, text = await rig.say(f"/track {rig.node.chain.accounts[4]} on morpho 0xabc")
    assert "64 hex digits" in text and "/track ADDRESS" in text
