"""Maker vaults from the real Vat, Spotter, Dog, CDP manager and OSM (makerdao/dss, osm, dss-cdp-manager) at
Ethereum's addresses, and the warning an hour ahead of the OSM."""

from __future__ import annotations


def items(rig, kind):
    return [i for row in rig.outbox.pending(1e12) for i in row.notice.items if i.kind == kind]


async def test_an_owners_vaults_are_found_through_the_cdp_manager(rig):
    owner = rig.node.chain.accounts[8]
    rig.node.market.maker.open(owner, 10, 15_000)
    rig.node.market.maker.open(owner, 2, 1_000)
    _, text = await rig.say(f"/track {owner} on maker")
    assert "2 positions added" in text, text
    assert "HF 1.379310 (the lender's own)" in text  # 10 WETH x $3,000 / 145 % against 15,000 DAI: the Vat's own test
    _, health = await rig.say("/health 1")
    assert "Maker" in health and "ETH-A" in health and "10 WETH" in health and "15,000.0" in health  # seconds of fee
    assert "Collateral ratio  200.0%" in health and "liquidation below 145.0%" in health  # the lender's own metric


async def test_the_next_osm_price_warns_an_hour_before_it_takes_effect(rig):
    owner = rig.node.chain.accounts[8]
    rig.node.market.maker.open(owner, 10, 15_000)
    await rig.say(f"/track {owner} on maker")
    await rig.tick()
    rig.node.market.maker.next_price(2_100)
    rig.node.market.maker.poke_osm()  # the OSM now holds $2,100 as its next price; the current stays $3,000 for an hour
    await rig.tick()
    await rig.tick()
    ahead = items(rig, "next-price")
    assert len(ahead) == 1, ahead
    assert "Maker's price becomes $2,100.00; #1 (Ethereum wallet) will be liquidatable then (ratio 140% < 145%)" in ahead[0].text
    assert items(rig, "worse") == []  # not yet: the Vat still uses $3,000
    rig.node.market.maker.poke_osm()  # the hour is up
    await rig.tick()
    assert len(items(rig, "worse")) == 1 and len(items(rig, "next-price")) == 1


async def test_one_vault_by_id(rig):
    owner = rig.node.chain.accounts[8]
    rig.node.market.maker.open(owner, 1, 500)
    cdp = rig.node.market.maker.open(owner, 3, 2_000)
    _, text = await rig.say(f"/track {owner} on maker {cdp}")
    assert "1 position added" in text and "$9,000.00 collateral" in text, text


async def test_a_bark_is_told_once_as_a_liquidation(rig):
    owner = rig.node.chain.accounts[8]
    cdp = rig.node.market.maker.open(owner, 10, 15_000)
    await rig.say(f"/track {owner} on maker")
    await rig.tick()
    rig.node.market.maker.next_price(2_000)
    rig.node.market.maker.poke_osm()
    rig.node.market.maker.poke_osm()  # $2,000 is current: 10 WETH / 145 % covers 13,793 DAI of the 15,000 owed
    rig.node.market.maker.bark(rig.node.chain.accounts[7], cdp)
    rig.node.chain.mine(70)
    await rig.tick()
    await rig.tick()
    texts = items(rig, "liquidated")
    assert len(texts) == 1, texts
    assert "was liquidated on Maker (Ethereum): 10 WETH taken, 15,000 DAI of debt taken over by the auction" in texts[0].text, \
        texts[0].text


async def test_the_stability_fee_accrued_since_the_last_drip_is_owed(rig):
    maker, owner = rig.node.market.maker, rig.node.chain.accounts[8]
    cdp = maker.open(owner, 10, 15_000)
    await rig.say(f"/track {owner} on maker")
    rig.node.chain.travel(365 * 86400)  # a year at 5 %, and nobody dripped
    await rig.tick()
    link = rig.store.chain_links()[0]
    read = float(link.reading["amounts"]["debt"]["DAI"])
    block = link.reading["block"]
    assert rig.node.chain.block_number() == block
    maker.drip()  # now the Vat's rate catches up, one block (a second or so) later
    _, art = maker.vat.call("urns", b"ETH-A".ljust(32, b"\0"), maker.manager.call("urns", cdp))
    owed = art * maker.vat.call("ilks", b"ETH-A".ljust(32, b"\0"))[1] / 10**45
    assert 15_749 < read < owed < 15_751, (read, owed)  # 15,000 x 1.05
    assert owed - read < 0.01  # what the bot said a block earlier, to a cent
