"""1,000 consecutive garbage price cycles from the real clients: no crash, no transition,
exactly one 'monitoring paused' and one 'restored' notice per chat."""

from __future__ import annotations

from contextlib import asynccontextmanager

import aiohttp

from core.chat.assistant import Assistant
from core.lending.models import ChatRef
from core.market.prices.binance import BinanceSource
from core.market.prices.coinbase import CoinbaseSource
from core.market.prices.coingecko import CoinGeckoSource
from core.market.prices.feed import PriceFeed
from core.watch.monitor import Monitor
from core.watch.outbox import Outbox
from tests.conftest import actor, group_actor
from tests.fakes import FakeAdmins, FakeClock

GARBAGE = ["nan", "inf", "negative", "null", "html", "empty", "500", "timeout", "jump", "apart"]


def spoil(world, kind: str) -> None:
    for name in ("coingecko", "binance", "coinbase"):
        state = getattr(world, name)
        state.fault, state.skew, state.delay = None, 1.0, 0.3
    if kind == "timeout":
        for name in ("coingecko", "binance", "coinbase"):
            getattr(world, name).fault = "slow"
    elif kind == "jump":  # one source jumps 60 %, nobody confirms it
        world.coingecko.skew = 1.6
        world.binance.fault = world.coinbase.fault = "500"
    elif kind == "apart":  # two sources 10 % apart
        world.binance.skew = 1.10
        world.coinbase.fault = "500"
    else:
        for name in ("coingecko", "binance", "coinbase"):
            getattr(world, name).fault = kind


@asynccontextmanager
async def watched_book(price_apis, store, registry, presets):
    """Alice (ETH, shared into a group) and bob (BTC) on the real price clients; yields (tick, feed, monitor, outbox)."""
    clock = FakeClock()
    world = price_apis.world
    world.now = clock.now
    async with aiohttp.ClientSession() as session:
        sources = [CoinGeckoSource(session, price_apis.coingecko_url, timeout=0.05),
                   BinanceSource(session, price_apis.binance_url, timeout=0.05),
                   CoinbaseSource(session, price_apis.coinbase_url, timeout=0.05)]
        feed = PriceFeed(sources, registry, clock, in_use=store.assets_in_use)
        outbox = Outbox(store)
        monitor = Monitor(store, feed, registry, presets, clock, outbox)
        assistant = Assistant(store, feed, registry, presets, clock, events=monitor, admins=FakeAdmins(), outbox=outbox)
        alice, bob = actor("alice", "telegram"), actor("bob", "telegram")
        for who, text in ((alice, "/add 10 ETH borrow 15000 USDC on aave-v3"), (bob, "/add 1 BTC borrow 20000 USDC on aave-v3"),
                          (group_actor("alice", "-100"), "/watch 1")):
            assert not (await assistant.handle(who, text)).error

        async def tick():
            clock.advance(60)
            world.now = clock.now
            await feed.tick()
            return await monitor.tick()

        yield tick, feed, monitor, outbox


def kinds_by_chat(outbox) -> dict[str, list[tuple[str, str]]]:
    """(kind, label) of every queued item, per chat key."""
    by_chat: dict[str, list[tuple[str, str]]] = {}
    for row in outbox.pending(1e12):
        by_chat.setdefault(row.notice.chat.key, []).extend((i.kind, i.label) for i in row.notice.items)
    return by_chat


async def test_a_thousand_garbage_ticks(price_apis, store, registry, presets):
    world = price_apis.world
    async with watched_book(price_apis, store, registry, presets) as (tick, feed, monitor, outbox):
        await tick()  # good prices: positions learned
        levels = {row_id: monitor.evaluator.state_of(row_id) for row_id in monitor.evaluator.index}
        for i in range(1000):
            spoil(world, GARBAGE[i % len(GARBAGE)])
            await tick()
            snap = feed.quotes(["ETH", "BTC", "USDC"])
            assert not any(q.trusted for q in snap.quotes.values() if q.source not in ("peg", "fixed"))
        assert {row_id: monitor.evaluator.state_of(row_id) for row_id in levels} == levels  # no transition at all
        spoil(world, "none")
        for name in ("coingecko", "binance", "coinbase"):
            getattr(world, name).fault = None
        await tick()

    by_chat = {key: [kind for kind, _ in items] for key, items in kinds_by_chat(outbox).items()}
    assert by_chat == {
        ChatRef("telegram", "alice").key: ["degraded", "restored"],
        ChatRef("telegram", "bob").key: ["degraded", "restored"],
        ChatRef("telegram", "-100", True).key: ["degraded", "restored"],
    }


async def test_a_lone_source_s_jump_is_believed_only_on_the_third_check_in_a_row(price_apis, store, registry, presets):
    """The guard's promise: a > 50 % move seen by one source alone waits for two more checks that agree."""
    world = price_apis.world
    async with watched_book(price_apis, store, registry, presets) as (tick, feed, monitor, outbox):
        await tick()  # good prices: positions learned
        levels = {row_id: monitor.evaluator.state_of(row_id) for row_id in monitor.evaluator.index}
        world.binance.fault = world.coinbase.fault = "500"
        world.prices["ETH"] = 1200.0  # -60 %, and only CoinGecko answers
        for _ in range(2):
            await tick()
            assert not feed.quotes(["ETH"]).quotes["ETH"].trusted
            assert feed.quotes(["BTC"]).quotes["BTC"].trusted  # one source, no jump: fine
            assert {row_id: monitor.evaluator.state_of(row_id) for row_id in levels} == levels
        await tick()  # the third check in a row: believed
        quote = feed.quotes(["ETH"]).quotes["ETH"]
        assert quote.trusted and quote.price == 1200.0
    alice, group = ChatRef("telegram", "alice").key, ChatRef("telegram", "-100", True).key
    assert kinds_by_chat(outbox) == {  # ETH at $1,200 puts alice's position below HF 1
        alice: [("degraded", "MONITORING PAUSED"), ("worse", "LIQUIDATABLE"), ("restored", "MONITORING RESTORED")],
        group: [("degraded", "MONITORING PAUSED"), ("worse", "LIQUIDATABLE"), ("restored", "MONITORING RESTORED")],
    }
