"""Word when it happened: a real liquidation on the local chain is told once, from a block deep enough to stay."""

from __future__ import annotations

from tests.chain.morpho_market import market_id
from tests.chain.test_track import borrower
from tests.conftest import group_actor

DEEP = 64  # Ethereum's confirmations in the address book


def liquidated(rig):
    return [i for row in rig.outbox.pending(1e12) for i in row.notice.items if i.kind == "liquidated"]


async def test_an_aave_liquidation_is_told_once_with_what_was_taken_and_repaid(rig):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}", platform="telegram")
    await rig.assistant.handle(group_actor("alice"), "/watch 1")
    await rig.tick()
    rig.node.market.set_price("WETH", 1_700)
    rig.node.market.liquidate(rig.node.chain.accounts[7], wallet, "WETH", "USDC", 7_500)
    await rig.tick()
    assert liquidated(rig) == []  # not deep enough yet
    rig.node.chain.mine(DEEP)
    await rig.tick()
    await rig.tick()
    items = liquidated(rig)
    assert len(items) == 2, items  # the owner's chat and the group's, once each
    mine = next(i for i in items if "transaction 0x" in i.text)
    group = next(i for i in items if i is not mine)
    assert "was liquidated on Aave v3 (Ethereum): 4.63235294 WETH taken, 7,500 USDC of debt repaid" in mine.text, mine.text
    assert "Block" not in group.text and wallet.lower() not in group.text.lower()
    _, health = await rig.say("/health 1", platform="telegram")
    assert "Debt        7,500" in health and "5.36764706 WETH" in health  # the position follows what is left


async def test_a_rewind_before_finality_announces_nothing(rig):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}")
    await rig.tick()
    before = rig.node.chain.snapshot()
    rig.node.market.set_price("WETH", 1_700)
    rig.node.market.liquidate(rig.node.chain.accounts[7], wallet, "WETH", "USDC", 7_500)
    rig.node.chain.mine(10)
    await rig.tick()
    rig.node.chain.revert(before)  # a reorg: that liquidation never happened on the chain that wins
    rig.node.chain.mine(DEEP + 20)
    await rig.tick()
    await rig.tick()
    assert liquidated(rig) == []


async def test_compound_absorb_and_morpho_liquidate_are_told_too(rig):
    wallet = rig.node.chain.accounts[6]
    comet, blue = rig.node.market.comet, rig.node.market.blue
    comet.supply(wallet, "WETH", 10)
    comet.borrow(wallet, 15_000)
    blue.borrow(wallet, blue.usdc, 10, 15_000)
    await rig.say(f"/track {wallet} on compound-v3")
    await rig.say(f"/track {wallet} on morpho {market_id(blue.usdc)}")
    await rig.tick()
    comet.set_price("WETH", 1_600)
    comet.absorb(rig.node.chain.accounts[7], wallet)
    blue.set_usdc_price(1_700)
    blue.liquidate(rig.node.chain.accounts[7], blue.usdc, wallet, 2)
    rig.node.chain.mine(DEEP + 1)
    await rig.tick()
    texts = sorted(i.text for i in liquidated(rig))
    assert len(texts) == 2, texts
    # 10 WETH at $1,600 credited at the 95 % liquidation factor: $15,200 against the debt, the rest stays a supply
    assert "on Compound v3 (Ethereum): 10 WETH taken, 15,200 USDC credited against the debt" in texts[0], texts[0]
    assert "on Morpho Blue (Ethereum): 2 WETH taken" in texts[1] and "USDC of debt repaid" in texts[1]
