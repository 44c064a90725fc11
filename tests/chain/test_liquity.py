"""Liquity v1 troves from the real TroveManager (liquity/dev) at Ethereum's address: the trove with pending
rewards, Liquity's own price, and recovery mode from the system's ratio."""

from __future__ import annotations


async def test_a_trove_reads_the_troves_own_ratio_and_the_system(rig):
    owner = rig.node.chain.accounts[3]
    rig.node.market.liquity.open(owner, 10, 15_000)
    _, text = await rig.say(f"/track {owner} on liquity-v1")
    icr = rig.node.market.liquity.troves.call("getCurrentICR", owner, 3_000 * 10**18) / 10**18
    assert "1 position added" in text and f"HF {icr / 1.1:.6f} (the lender's own)" in text, text
    _, health = await rig.say("/health 1")
    assert "15,275 LUSD" in health  # 15,000 drawn, the 0.5 % fee and the 200 LUSD reserve, as the TroveManager books it
    assert "System collateral ratio" in health and "recovery mode starts below 150%" in health


async def test_recovery_mode_puts_a_trove_under_150_percent_at_risk(rig):
    owner, other = rig.node.chain.accounts[3], rig.node.chain.accounts[4]
    rig.node.market.liquity.open(owner, 10, 15_000)
    rig.node.market.liquity.open(other, 10, 20_000)
    await rig.say(f"/track {owner} on liquity-v1")
    await rig.tick()
    rig.node.market.liquity.set_price(2_200)  # the system falls under 150 %: recovery mode; this trove's 144 % is now liquidatable
    rig.node.chain.mine()
    await rig.tick()
    assert rig.node.market.liquity.troves.call("checkRecoveryMode", 2_200 * 10**18)
    texts = [" ".join(i.text for i in row.notice.items) for row in rig.outbox.pending(1e12)]
    assert len(texts) == 1 and "can be liquidated now" in texts[0], texts
    _, health = await rig.say("/health 1")
    assert "RECOVERY MODE" in health


def told(rig, kind):
    return [i.text for row in rig.outbox.pending(1e12) for i in row.notice.items if i.kind == kind]


async def test_a_trove_liquidation_is_told_once(rig):
    owner, other = rig.node.chain.accounts[3], rig.node.chain.accounts[4]
    rig.node.market.liquity.open(owner, 10, 15_000)
    rig.node.market.liquity.open(other, 100, 50_000)
    await rig.say(f"/track {owner} on liquity-v1")
    await rig.tick()
    rig.node.market.liquity.set_price(1_600)  # 10 ETH at $1,600 against 15,275 LUSD: 105 %, under the 110 % minimum
    rig.node.market.liquity.liquidate(other, owner)
    rig.node.chain.mine(70)
    await rig.tick()
    await rig.tick()
    texts = told(rig, "liquidated")
    assert len(texts) == 1 and "was liquidated on Liquity v1 (Ethereum):" in texts[0], texts
    assert "ETH taken" in texts[0] and "15,275 LUSD of debt repaid" in texts[0], texts[0]


async def test_a_redemption_against_the_trove_is_told_with_what_it_took(rig):
    owner, other = rig.node.chain.accounts[3], rig.node.chain.accounts[4]
    rig.node.market.liquity.open(owner, 10, 15_000)  # the lowest ratio: redeemed against first
    rig.node.market.liquity.open(other, 100, 50_000)
    await rig.say(f"/track {owner} on liquity-v1")
    rig.node.chain.travel(15 * 86400)  # redemptions open after Liquity's 14-day bootstrap
    await rig.tick()
    rig.node.market.liquity.redeem(other, 5_000, owner)
    rig.node.chain.mine(70)
    await rig.tick()
    await rig.tick()
    texts = told(rig, "redeemed")
    assert len(texts) == 1 and "was redeemed against on Liquity v1 (Ethereum)" in texts[0], texts
    assert "5,000 LUSD of debt cancelled" in texts[0] and "1.66666667 ETH taken" in texts[0], texts[0]
