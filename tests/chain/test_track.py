"""/track on the real Aave v3 contracts (npm @aave/core-v3 1.19.3) at Ethereum's addresses on a local EVM,
read through the shipped address book, real aiohttp JSON-RPC and Multicall3."""

from __future__ import annotations

import pytest

from bot.app import trusted_price
from bot.render import plain_text
from core.chain.addresses import AddressBook
from core.chain.rpc import RpcClient
from core.chain.tracker import Tracker
from core.chat.assistant import Assistant
from core.market.prices.feed import PriceFeed
from core.storage.store import Store
from core.watch.monitor import Monitor
from core.watch.outbox import Outbox
from tests.conftest import actor, group_actor
from tests.fakes import VECTOR_PRICES, FakeAdmins, FakeClock, FakePriceSource


class Rig:
    """The core wired as the composition root does, reading the local chain."""

    def __init__(self, tmp_path, registry, presets, url, session, clock=None, book=None):
        self.clock = clock or FakeClock()
        self.store = Store(tmp_path / "bot.db")
        self.source = FakePriceSource(dict(VECTOR_PRICES))
        self.feed = PriceFeed([self.source], registry, self.clock, in_use=self.store.assets_in_use)
        self.rpc = RpcClient("ethereum", url if isinstance(url, list) else [url], session, self.clock.time, timeout=2)
        self.tracker = Tracker(self.store, book or AddressBook.bundled(), {"ethereum": self.rpc}, self.clock,
                               usd=lambda s: trusted_price(self.feed, s))
        self.outbox = Outbox(self.store)
        self.monitor = Monitor(self.store, self.feed, registry, presets, self.clock, self.outbox, oracle=self.tracker)
        self.monitor.load()
        self.tracker.events = self.monitor
        self.assistant = Assistant(self.store, self.feed, registry, presets, self.clock, events=self.monitor,
                                   admins=FakeAdmins(), outbox=self.outbox)
        self.assistant.tracker = self.tracker

    async def say(self, text, who="alice", platform="console"):
        reply = await self.assistant.handle(actor(who, platform), text)
        return reply, plain_text(reply)

    async def tick(self, seconds=60.0):
        self.clock.advance(seconds)
        await self.feed.tick()
        await self.tracker.tick()
        return await self.monitor.tick()

    def pending_text(self):
        return [" ".join(i.text for i in row.notice.items) for row in self.outbox.pending(1e12)]


def borrower(node, weth=10.0, usdc=15_000.0):
    wallet = node.chain.accounts[2]
    node.market.supply(wallet, "WETH", weth)
    if usdc:
        node.market.borrow(wallet, "USDC", usdc)
    return wallet


async def test_track_reads_the_lenders_own_health_factor(rig):
    wallet = borrower(rig.node)
    on_chain = rig.node.market.account(wallet)[5] / 1e18
    reply, text = await rig.say(f"/track {wallet}")
    assert "1 position added" in reply.title, text
    assert "HF 1.650000 (the lender's own)" in text and f"{on_chain:.6f}" == "1.650000"
    _, health = await rig.say("/health 1")
    assert "Lender's health factor  1.650000" in health
    assert "Health factor" in health and "1.65" in health
    assert "10 WETH" in health and "15,000 USDC" in health
    assert wallet.lower() not in health.lower()  # the answer never needs the address


async def test_a_year_later_the_debt_has_accrued_and_the_warning_comes_when_the_oracle_falls(rig):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}")
    rig.node.chain.travel(365 * 86400)
    await rig.tick()
    expected = rig.node.market.data_provider.call("getUserReserveData", rig.node.market.tokens["USDC"].address, wallet)[2]
    _, health = await rig.say("/health 1")
    assert f"{expected / 1e6:,.2f}"[:8] in health  # 15,010.00 USDC with a year's interest
    chain_hf = rig.node.market.account(wallet)[5] / 1e18
    assert f"Lender's health factor  {chain_hf:.6f}" in health
    assert rig.pending_text() == []
    rig.node.market.set_price("WETH", 1_800)  # Aave's oracle now says $1,800; the market feed still $3,000
    rig.node.chain.mine()
    await rig.tick()
    texts = rig.pending_text()
    # a year's interest is in the debt the monitor weighs: 10 x 1,800 x 82.5 % / 15,010.00 = 0.9893
    assert len(texts) == 1 and "#1" in texts[0] and "health factor 0.98" in texts[0], texts
    assert "WETH $1,800.00, liquidation at $1,81" in texts[0]  # priced as the lender prices it
    _, health = await rig.say("/health 1")
    assert "by the lender's oracle" in health and "$1,800.00" in health and "$3,000.00 on the market" in health


async def test_a_repay_in_the_wallet_shows_in_the_next_tick_and_changes_by_hand_are_refused(rig):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}")
    reply, text = await rig.say("/repay 1 5000 USDC")
    assert "follows the chain" in text and "/untrack 1" in text
    rig.node.market.repay(wallet, "USDC", 5_000)
    await rig.tick()
    _, health = await rig.say("/health 1")
    assert "10,000" in health and "15,000 USDC" not in health
    assert "Lender's health factor  2.475000" in health


async def test_an_address_with_no_position_says_what_was_searched(rig):
    reply, text = await rig.say(f"/track {rig.node.chain.accounts[5]}")
    assert "has no Aave v3, Compound v3, Liquity v1, Liquity v2, Maker or Morpho Blue position on Ethereum" in text
    assert rig.store.chain_links() == []


@pytest.mark.parametrize("bad, said", [
    ("/track 0x12", "is not an address"),
    ("/track 0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756CC2", "checksum"),  # one letter's case wrong
    ("/track 0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2 on venus", "Unknown lender"),
    ("/track 0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2 on aave-v3 solana", "Unknown chain"),
    ("/track nobody.eth", "nobody.eth does not resolve to an address on Ethereum"),
    ("/track bad_name!.eth", "not one I can read"),
    ("/track", "Which wallet?"),
])
async def test_bad_input_gets_one_line_and_the_usage(rig, bad, said):
    reply, text = await rig.say(bad)
    assert said in text and "/track ADDRESS" in text, text
    assert rig.store.chain_links() == []


async def test_track_in_a_group_is_refused_and_a_shared_position_never_shows_the_address(rig):
    wallet = borrower(rig.node)
    reply = await rig.assistant.handle(group_actor("alice"), f"/track {wallet}")
    assert "yours alone" in plain_text(reply)
    await rig.say(f"/track {wallet}", platform="telegram")
    await rig.assistant.handle(group_actor("alice"), "/watch 1")
    shared = plain_text(await rig.assistant.handle(group_actor("bob"), "/health W1"))
    assert "1.650000" in shared and wallet.lower() not in shared.lower() and wallet[2:8].lower() not in shared.lower()


async def test_untrack_export_and_forget(rig):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}")
    reply, _ = await rig.say("/export")
    assert wallet.lower() in reply.attachment.content.decode()
    _, text = await rig.say("/untrack 1")
    assert "Stopped following #1" in text and rig.store.chain_links() == []
    await rig.say(f"/track {wallet}")
    await rig.say("/forget yes")
    assert rig.store.chain_links() == []


async def test_an_ens_name_is_resolved_once_and_shown_beside_the_address(rig):
    wallet = borrower(rig.node)
    _, text = await rig.say("/track borrower.eth on aave-v3")
    assert f"Following borrower.eth ({wallet[:6].lower()}" in text and "1 position added" in text, text
    link = rig.store.chain_links()[0]
    assert link.address == wallet.lower() and link.ens == "borrower.eth"


async def test_an_owner_follows_at_most_ten_addresses(rig):
    from core.lending.models import Leg, Overrides, Owner
    from core.storage.store import ChainLink

    for n in range(10):
        rig.store.add_position(Owner("console", "user", "alice"), "aave-v3", "core", (Leg("WETH", 1),), (), Overrides(),
                               None, follows=ChainLink("ethereum", "aave-v3", f"0x{n + 1:040x}", None, {}, None))
    wallet = borrower(rig.node)
    _, text = await rig.say(f"/track {wallet}")
    assert "already follow 10 addresses" in text
    assert len(rig.store.chain_links()) == 10


@pytest.mark.parametrize("command, said", [
    ("/positions", "HF 1.65"),
    ("/capacity 1", "9,150 USDC"),
    ("/capacity 1 hf 1.5", "1,500 USDC"),
    ("/whatif ETH -30%", "1.65 → 1.15"),  # at the chain's 82.5 % threshold
    ("/carry 1 yield 5%", "Net"),
    ("/backtest 1 2022-06", "lowest"),
    ("/chart 1 whatif", "#1"),
])
async def test_a_followed_position_answers_every_command_like_the_others(rig, command, said):
    wallet = borrower(rig.node)
    await rig.say(f"/track {wallet}")
    reply, text = await rig.say(command)
    assert said in text and "went wrong" not in text, text
