"""/mining through the Assistant, reading the emulated mempool.space (and blockchain.info) with the real aiohttp
client: registering fleets, the answer, a Ledn loan's projection, what-ifs, faults, and the margin warning."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.render import plain_text
from core.market import mining as m
from core.market.mining_data import BlockchainInfoSource, MempoolSource, MiningData
from core.watch.mining_watch import MiningWatch
from core.watch.outbox import Outbox
from tests.emulators.mempool import MempoolState, mempool_app


@pytest.fixture
async def miner(assistant, store, clock):
    state = MempoolState(now=clock.now, height=925_000)
    server = TestServer(mempool_app(state), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        sources = [MempoolSource(session, url, timeout=1), BlockchainInfoSource(session, url, timeout=1)]
        assistant.mining = MiningData(store.db, sources, clock)
        assistant.state = state
        yield assistant
    await server.close()


async def say(assistant, who, text):
    return " ".join(plain_text(await assistant.handle(who, text)).split())


async def test_a_fleet_is_registered_and_its_day_is_told(miner, alice):
    text = await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%")
    assert "Fleet 1 added: 200.00 TH/s at 17.5 J/TH, power $0.06/kWh, pool fee 2.0%" in text, text
    text = await say(miner, alice, "/mining 1")
    net = m.Network(1.5e14, 925_000, 0.02, 0.025, 0)
    e = m.economics(m.Fleet(200, 17.5, 0.06, 0.02), net, 60_000)
    assert f"Mined {e.btc_per_day:.8f} BTC a day" in text and "Power $5.04 a day" in text, text
    assert f"Break-even BTC price ${e.break_even_price:,.2f}" in text
    assert "Next retarget +2.50% (estimate)" in text and "Next halving block 1,050,000" in text
    assert "subsidy 3.125 -> 1.5625 BTC" in text and "network from mempool.space, 0 s old" in text
    assert "Loan none linked: /mining 1 loan N" in text
    overview = await say(miner, alice, "/mining")
    assert "Fleet 1 200.00 TH/s:" in overview and "break-even BTC" in overview


async def test_a_ledn_loan_is_projected_month_by_month(miner, alice):
    await say(miner, alice, "/add 1 BTC borrow 30000 USD on ledn")
    await say(miner, alice, "/rate 1 12%")
    await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%")
    text = await say(miner, alice, "/mining 1 loan 1")
    assert "margin call at 70% LTV, liquidation at 80%, pledging 0%" in text, text
    assert "Month 12" in text and "Month 13" not in text
    assert "does not reach its margin call within 12 months" in text  # 50 % now, 56 % after a year at 12 %
    text = await say(miner, alice, "/mining 1 pledge 50%")
    assert "pledging 50%" in text and "pledged 0.00" in text
    text = await say(miner, alice, "/mining 1 whatif BTC -30%")
    assert "what if BTC -30% at $42,000.00" in text and "reaches its margin call in month 1" in text, text
    assert "top-up" in text


async def test_what_ifs_and_bad_input(miner, alice):
    await say(miner, alice, "/mining add 1 PH/s 20 J/TH power 0.05")
    halving = await say(miner, alice, "/mining 1 whatif halving")
    base = await say(miner, alice, "/mining 1")
    assert "after the next halving (subsidy 1.5625 BTC)" in halving
    assert "Next halving block 1,050,000" in halving and "subsidy 3.125 -> 1.5625 BTC" in halving  # still the real one
    harder = await say(miner, alice, "/mining whatif difficulty +10%")  # the only fleet
    assert "difficulty +10% now and at each later retarget" in harder and harder != base
    for bad, why in (("/mining add 200 TH/s 17.5 J/TH power 3", "out of any plausible range"),
                     ("/mining add 200 TH/s 1 J/TH power 0.06", "out of any plausible range"),
                     ("/mining add 17.5 J/TH power 0.06", "Give the fleet's hashrate"),
                     ("/mining add 200 TH/s power 0.06", "efficiency and the power price"),
                     ("/mining add 200 TH/s 17.5 J/TH power 0.06 pool 30%", "out of any plausible range"),
                     ("/mining 1 pledge 150%", "between 0% and 100%"), ("/mining 1 loan 9", "no position #9"),
                     ("/mining 7", "no fleet 7"), ("/mining 1 whatif moon", "Unknown what-if")):
        text = await say(miner, alice, bad)
        assert why in text, (bad, text)
    assert len((await say(miner, alice, "/mining")).split("Fleet ")) == 2  # still one fleet
    await say(miner, alice, "/add 10 ETH borrow 5000 USDC on aave-v3")
    assert "holds no BTC as collateral" in await say(miner, alice, "/mining 1 loan 1")


@pytest.mark.parametrize("fault", ["500", "html", "nan", "future", "past-retarget", "truncated", "slow", "empty"])
async def test_a_bad_answer_falls_back_to_blockchain_info_or_the_last_good_read(miner, alice, clock, fault):
    await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06")
    assert "from mempool.space" in await say(miner, alice, "/mining 1")
    miner.state.fault = fault
    miner.state.difficulty = 1.6e14
    clock.advance(3_600)
    text = await say(miner, alice, "/mining 1")
    assert "network from blockchain.info, 0 s old" in text, text  # its difficulty; fees and trend from the last read
    miner.state.info_fault = "500"
    clock.advance(3_600)
    text = await say(miner, alice, "/mining 1")
    assert "network from blockchain.info, 60 min old" in text and "refresh failed: mempool.space" in text, text
    status = " ".join(plain_text(await miner.handle(alice, "/status")).split())
    assert "Mining data blockchain.info, block 925,000, difficulty 1.6e+14, read 60 min ago; last refresh failed" in status


async def test_no_data_at_all_is_said_plainly(miner, alice):
    miner.state.fault = miner.state.info_fault = "500"
    await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06")
    assert "No mining data yet (mempool.space: http-500; blockchain.info: http-500)" in await say(miner, alice, "/mining 1")


def watch_of(miner, store, clock):
    return MiningWatch(store, miner.mining, miner.ctx.prices, Outbox(store), clock, miner.presets, miner.registry)


async def test_a_fleet_turning_unprofitable_is_warned_once_and_again_when_it_recovers(miner, alice, store, clock):
    await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.03")
    watch = watch_of(miner, store, clock)
    outbox = watch.outbox
    assert await watch.tick() == 0  # profitable at $60,000: nothing to say
    even = m.economics(m.Fleet(200, 17.5, 0.03, 0), miner.mining.latest()[0], 60_000).break_even_price
    miner.ctx.prices.prices["BTC"] = even * 0.9
    await say(miner, alice, "/alerts off")
    assert await watch.tick() == 0  # warnings off: not even this
    await say(miner, alice, "/alerts on")
    assert await watch.tick() == 1
    assert await watch.tick() == 0  # once per crossing
    [row] = outbox.pending(1e12)
    item = row.notice.items[0]
    assert item.label == "MINING AT A LOSS" and "Fleet 1 now spends more on power than it earns" in item.text
    assert row.notice.chat.chat_id == "alice" and not row.notice.chat.is_group
    miner.ctx.prices.prices["BTC"] = even * 1.03  # just above break-even: inside the hysteresis band
    assert await watch.tick() == 0
    miner.ctx.prices.prices["BTC"] = even * 1.2
    assert await watch.tick() == 1
    assert outbox.pending(1e12)[-1].notice.items[0].label == "MINING PROFITABLE AGAIN"
    miner.state.fault = miner.state.info_fault = "500"  # the sources fail: the last good read still serves
    miner.ctx.prices.prices["BTC"] = even * 0.5
    clock.advance(7_200)
    assert await watch.tick() == 1
    del miner.ctx.prices.prices["BTC"]  # no BTC price: nothing is decided
    assert await watch.tick() == 0


async def test_fleets_are_in_the_export_and_gone_with_forget(miner, alice, store):
    import json

    from core.storage.fleets import Fleets

    await say(miner, alice, "/add 1 BTC borrow 30000 USD on ledn")
    await say(miner, alice, "/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%")
    await say(miner, alice, "/mining 1 loan 1")
    exported = json.loads((await miner.handle(alice, "/export")).attachment.content)
    assert exported["mining_fleets"] == [{"id": 1, "hashrate_th": 200.0, "efficiency_j_th": 17.5, "power_usd_kwh": 0.06,
                                          "pool_fee": 0.02, "pledge": 0.0, "loan": 1}]
    await miner.handle(alice, "/forget")
    await miner.handle(alice, "/forget yes")
    assert Fleets(store).all() == []


async def test_a_margin_call_coming_within_three_months_is_warned_counting_only_pledged_coins(miner, alice, store, clock):
    await say(miner, alice, "/add 1 BTC borrow 41200 USD on ledn")  # 68.7 % LTV at $60,000, 12 % a year: 70 % in month 2
    await say(miner, alice, "/rate 1 12%")
    await say(miner, alice, "/mining add 5 PH/s 17.5 J/TH power 0.03")
    watch = watch_of(miner, store, clock)
    assert await watch.tick() == 0  # no loan linked: nothing to foresee
    await say(miner, alice, "/mining 1 loan 1")
    assert await watch.tick() == 1  # the coins it mines are not counted: none are pledged
    assert await watch.tick() == 0  # once
    item = watch.outbox.pending(1e12)[-1].notice.items[0]
    assert item.label == "MARGIN CALL AHEAD", item
    assert "#1, the loan Fleet 1 backs, reaches its margin call (70% LTV) in month 2 at today's BTC price" in item.text
    assert "with nothing pledged" in item.text
    await say(miner, alice, "/mining 1 pledge 100%")  # about 0.03 BTC a month now goes to the collateral
    assert await watch.tick() == 1
    assert watch.outbox.pending(1e12)[-1].notice.items[0].label == "MARGIN CALL NO LONGER AHEAD"
