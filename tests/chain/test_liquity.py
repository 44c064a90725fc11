"""Liquity v1 troves from the real TroveManager (liquity/dev) at Ethereum's address: the trove with pending
rewards, Liquity's own price, and recovery mode from the system's ratio."""

from __future__ import annotations

import aiohttp
import pytest

from tests.chain.test_track import Rig


@pytest.fixture
async def rig(tmp_path, registry, presets, node):
    async with aiohttp.ClientSession() as session:
        r = Rig(tmp_path, registry, presets, node.url, session)
        r.node = node
        r.liquity = node.market.liquity
        yield r
        r.store.close()


async def test_a_trove_reads_the_troves_own_ratio_and_the_system(rig):
    owner = rig.node.chain.accounts[3]
    rig.liquity.open(owner, 10, 15_000)
    _, text = await rig.say(f"/track {owner} on liquity-v1")
    icr = rig.liquity.troves.call("getCurrentICR", owner, 3_000 * 10**18) / 10**18
    assert "1 position added" in text and f"HF {icr / 1.1:.6f} (the lender's own)" in text, text
    _, health = await rig.say("/health 1")
    assert "15,275 LUSD" in health  # 15,000 drawn, the 0.5 % fee and the 200 LUSD reserve, as the TroveManager books it
    assert "System collateral ratio" in health and "recovery mode starts below 150%" in health


async def test_recovery_mode_puts_a_trove_under_150_percent_at_risk(rig):
    owner, other = rig.node.chain.accounts[3], rig.node.chain.accounts[4]
    rig.liquity.open(owner, 10, 15_000)
    rig.liquity.open(other, 10, 20_000)
    await rig.say(f"/track {owner} on liquity-v1")
    await rig.tick()
    rig.liquity.set_price(2_200)  # the system falls under 150 %: recovery mode; this trove's 144 % is now liquidatable
    rig.node.chain.mine()
    await rig.tick()
    assert rig.liquity.troves.call("checkRecoveryMode", 2_200 * 10**18)
    texts = [" ".join(i.text for i in row.notice.items) for row in rig.outbox.pending(1e12)]
    assert len(texts) == 1 and "can be liquidated now" in texts[0], texts
    _, health = await rig.say("/health 1")
    assert "RECOVERY MODE" in health
