"""Liquity v2 troves from the real contracts (liquity/bold) at Ethereum's addresses: an owner's troves found on
every branch, the trove's debt with its accrued interest and the branch's own price, the debt in front of it in
redemption order, the owner's redemption line, and word when it was redeemed against or liquidated."""

from __future__ import annotations

from tests.chain.liquity_v2 import ARTIFACTS, DEBT_IN_FRONT, WAD

DAY = 86400


def flat(text):
    return " ".join(text.split())


def told(rig, kind):
    return [i.text for row in rig.outbox.pending(1e12) for i in row.notice.items if i.kind == kind]


def troves(node):
    """Three WETH troves at 2 %, 5 % and 8 % (owner: accounts 3, 2, 4) and the owner's rETH trove at 4 % (its second:
    the first on each branch would have the same id)."""
    v2, a = node.market.bold, node.chain.accounts
    low = v2.open(a[3], "WETH", 10, 5_000, 0.02)
    mine = v2.open(a[2], "WETH", 10, 15_000, 0.05)
    high = v2.open(a[4], "WETH", 20, 20_000, 0.08)
    reth = v2.open(a[2], "rETH", 3, 4_000, 0.04, index=1)
    return low, mine, high, reth


async def test_track_finds_the_owners_troves_on_every_branch_with_the_branchs_own_numbers(rig):
    _, mine, _, reth = troves(rig.node)
    owner = rig.node.chain.accounts[2]
    _, text = await rig.say(f"/track {owner} on liquity-v2")
    assert "2 positions added" in text, text
    weth = rig.node.market.bold.branches["WETH"].troves
    debt, coll = (x / WAD for x in weth.call("getLatestTroveData", mine)[:2])
    hf = coll * 3_000 / debt / 1.10
    assert f"HF {hf:.6f} (the lender's own)" in text, text
    health = flat((await rig.say("/health 1"))[1])
    assert f"Debt {debt:,.6f} BOLD" in health, health  # the week of upfront interest included
    assert "Interest rate 5.00% a year" in health, health
    # the debt in front as Liquity's own DebtInFrontHelper gives it (the bot walks the list once per branch instead)
    helper = rig.node.chain.at(ARTIFACTS["DebtInFrontHelper"], DEBT_IN_FRONT)
    front = helper.call("getDebtBetweenInterestRateAndTrove", 0, 0, 2**256 - 1, mine, 0, 0)[0] / WAD
    assert f"Debt in front {round(front):,} BOLD, 12.5% of the branch's" in health, health
    link = rig.store.chain_links()[0]
    assert abs(link.reading["system"]["front"] - front) < 1e-6, (link.reading["system"]["front"], front)
    assert "Branch collateral ratio" in health and "shuts down below 110%" in health
    carry = flat((await rig.say("/carry 1 yield 8%"))[1])
    assert "5.00%" in carry and "the trove's own rate, read from Liquity v2" in carry, carry
    other = flat((await rig.say("/health 2"))[1])
    assert "3 rETH" in other and "Debt in front 0 BOLD" in other and "UNDER your line of 5.0%" in other, other


def troves_low(rig):
    """The 2 % trove's id (accounts 3, index 0)."""
    from tests.chain.liquity_v2 import trove_id

    a = rig.node.chain.accounts[3]
    return trove_id(a, a, 0)


async def test_track_by_trove_id_checks_whose_it_is(rig):
    low, mine, _, _ = troves(rig.node)
    owner = rig.node.chain.accounts[2]
    _, text = await rig.say(f"/track {owner} on liquity-v2 ethereum {mine}")
    assert "1 position added" in text, text
    _, text = await rig.say(f"/track {owner} on liquity-v2 {hex(low)}")
    assert f"trove {str(low)[:6]}…{str(low)[-4:]} is held by another address; /track the address that holds" in text, text
    assert len(rig.store.chain_links()) == 1


async def test_a_trove_under_its_redemption_line_is_warned_once_with_what_a_safer_rate_costs(rig):
    v2, owner = rig.node.market.bold, rig.node.chain.accounts[2]
    _, mine, _, _ = troves(rig.node)
    await rig.say(f"/track {owner} on liquity-v2 {mine}")
    _, reply = await rig.say("/alerts 1 redemption 30%")  # 5,000 of about 40,000 BOLD in front: 12.5 %
    assert "less than 30.0% of the branch's debt" in reply, reply
    await rig.tick()
    await rig.tick()
    texts = told(rig, "redemption-risk")
    assert len(texts) == 1, texts
    assert "under your 30.0% line" in texts[0] and "12.5% of the WETH branch's debt" in texts[0], texts[0]
    # 60 % in front needs the 8 % trove passed: 8.10 %; the rate was set at opening, under 7 days ago: a fee now
    assert "from 5.00% to 8.10%" in texts[0] and "BOLD now (a change within 7 days" in texts[0], texts[0]
    v2.set_rate(owner, "WETH", mine, 0.081)  # the owner follows the advice
    rig.node.chain.mine()
    await rig.tick()
    clear = told(rig, "redemption-clear")
    assert len(clear) == 1 and "above your 30.0% line" in clear[0], clear


async def test_warnings_off_quiet_the_redemption_line_too(rig):
    _, mine, _, _ = troves(rig.node)
    await rig.say(f"/track {rig.node.chain.accounts[2]} on liquity-v2 {mine}")
    await rig.say("/alerts 1 redemption 30%")
    await rig.say("/alerts 1 off")
    await rig.tick()
    await rig.tick()
    assert told(rig, "redemption-risk") == []


async def test_a_redemption_against_the_trove_is_told_with_what_it_took(rig):
    v2, a = rig.node.market.bold, rig.node.chain.accounts
    low, _, _, _ = troves(rig.node)
    await rig.say(f"/track {a[3]} on liquity-v2")
    await rig.tick()
    rig.node.chain.travel(3 * DAY)  # the redemption fee starts at 100 % and decays by the minute
    v2.set_price("WETH", 3_000)
    before = v2.branches["WETH"].troves.call("getLatestTroveData", low)[0] / WAD
    v2.redeem(a[4], 1_000)  # BOLD is redeemed from the branches by their share of debt; the 2 % trove pays first
    after = v2.branches["WETH"].troves.call("getLatestTroveData", low)[0] / WAD
    rig.node.chain.mine(70)
    await rig.tick()
    await rig.tick()
    texts = told(rig, "redeemed")
    assert len(texts) == 1 and "was redeemed against on Liquity v2 (Ethereum)" in texts[0], texts
    cancelled = float(texts[0].split(" WETH taken, ")[1].split(" BOLD")[0].replace(",", ""))
    assert abs(cancelled - (before - after)) < 0.01 and 800 < cancelled < 1_000, (cancelled, before - after)
    _, health = await rig.say("/health 1")
    assert f"{after:,.2f}"[:5] in health


async def test_a_liquidation_is_told_once(rig):
    v2, a = rig.node.market.bold, rig.node.chain.accounts
    _, mine, _, _ = troves(rig.node)
    await rig.say(f"/track {a[2]} on liquity-v2 {mine}")
    await rig.tick()
    v2.set_price("WETH", 1_600)  # 10 WETH at $1,600 against 15,014 BOLD: 107 %, under the 110 % minimum
    rig.node.chain.mine()
    await rig.tick()
    assert any("LIQUIDATABLE" in t or "can be liquidated" in t for t in rig.pending_text()), rig.pending_text()
    v2.liquidate(a[5], "WETH", mine)  # no stability pool deposits: redistributed to the other troves
    rig.node.chain.mine(70)
    await rig.tick()
    await rig.tick()
    texts = told(rig, "liquidated")
    assert len(texts) == 1 and "was liquidated on Liquity v2 (Ethereum): 10 WETH taken" in texts[0], texts
    assert "BOLD of debt cancelled" in texts[0]


async def test_bad_trove_ids_and_lines_are_refused_with_the_usage_and_change_nothing(rig):
    _, mine, _, _ = troves(rig.node)
    owner = rig.node.chain.accounts[2]
    _, text = await rig.say(f"/track {owner} on liquity-v2 12ab")
    assert "A Liquity v2 trove id is a whole number" in text and "Usage" in text, text
    _, text = await rig.say(f"/track {owner} on liquity-v2 0x" + "f" * 65)
    assert "A Liquity v2 trove id is a whole number" in text
    assert rig.store.chain_links() == []
    await rig.say(f"/track {owner} on liquity-v2 {mine}")
    await rig.say("/add 10 ETH borrow 10000 USDC on aave-v3")
    _, text = await rig.say("/alerts 2 redemption 10%")
    assert "not a Liquity v2 trove" in text
    for bad, why in (("0.1", "like 'redemption 10%'"), ("100%", "out of range"), ("-5%", "without a sign"), ("", "needs a value")):
        _, text = await rig.say(f"/alerts 1 redemption {bad}".strip())
        assert why in text, (bad, text)
    text = flat((await rig.say("/alerts 1"))[1])
    assert "less than 5.0% of the branch's debt stands in front (default)" in text, text


async def test_the_sorted_list_is_walked_page_by_page_and_a_trove_beyond_the_walk_gets_a_floor(rig):
    _, mine, high, _ = troves(rig.node)
    a = rig.node.chain.accounts
    await rig.say(f"/track {a[2]} on liquity-v2 {mine}")
    await rig.say(f"/track {a[4]} on liquity-v2 {high}")
    helper = rig.node.chain.at(ARTIFACTS["DebtInFrontHelper"], DEBT_IN_FRONT)
    rig.tracker.read.pages = (1, 10)  # one trove per eth_call: the 8 % trove is three pages up
    before = len(rig.node.state.requests)
    await rig.tick()
    calls = rig.node.state.requests[before:].count("eth_call")
    assert calls == 4, rig.node.state.requests[before:]  # the branch and both troves in one, then three pages
    fronts = {link.market_ref: link.reading["system"]["front"] for link in rig.store.chain_links()}
    for trove in (mine, high):
        expected = helper.call("getDebtBetweenInterestRateAndTrove", 0, 0, 2**256 - 1, trove, 0, 0)[0] / WAD
        assert abs(fronts[f"WETH:{trove}"] - expected) < 1e-6
    rig.tracker.read.pages = (1, 2)  # the walk stops after two troves: the 8 % trove is beyond it
    await rig.tick()
    health = flat((await rig.say("/health 2"))[1])
    assert "Debt in front more than 20,0" in health and "more than 50.0% of the branch's" in health, health
