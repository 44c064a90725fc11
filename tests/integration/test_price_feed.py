"""The price feed against the three emulated APIs: requests per tick, back-off, guards, truth of /price."""

from __future__ import annotations

import math
import random

import aiohttp
import pytest

from core.market.prices.binance import BinanceSource
from core.market.prices.coinbase import CoinbaseSource
from core.market.prices.coingecko import CoinGeckoSource
from core.market.prices.feed import PriceFeed
from core.market.prices.guard import Trust
from tests.emulators.prices import FAULTS
from tests.fakes import FakeClock

TRACKED = ["BTC", "ETH", "WETH", "USDC"]


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clock(price_apis):
    c = FakeClock()
    price_apis.world.now = c.now
    return c


def feed_for(price_apis, session, registry, clock, names=("coingecko", "binance", "coinbase"), tracked=TRACKED):
    make = {
        "coingecko": lambda: CoinGeckoSource(session, price_apis.coingecko_url, timeout=0.5),
        "binance": lambda: BinanceSource(session, price_apis.binance_url, timeout=0.5),
        "coinbase": lambda: CoinbaseSource(session, price_apis.coinbase_url, timeout=0.5),
    }
    return PriceFeed([make[n]() for n in names], registry, clock, in_use=lambda: tracked)


def advance(clock, price_apis, seconds=60):
    clock.advance(seconds)
    price_apis.world.now = clock.now


async def test_one_request_per_source_per_tick(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock)
    report = await feed.tick()
    assert report.requests == {"coingecko": 1, "binance": 1, "coinbase": 1}
    assert report.degraded == {}
    snap = feed.quotes(TRACKED)
    assert snap.quotes["ETH"].price == pytest.approx(3000.0) and snap.quotes["ETH"].trusted
    assert set(snap.quotes["ETH"].source.split("+")) == {"coingecko", "binance", "coinbase"}


async def test_requests_do_not_grow_with_positions(price_apis, session, registry, clock, store):
    from decimal import Decimal

    from core.lending.models import Leg, Overrides, Owner

    feed = PriceFeed([CoinGeckoSource(session, price_apis.coingecko_url)], registry, clock, in_use=store.assets_in_use)
    for i in range(200):
        owner = Owner("console", "user", f"u{i % 7}") if i < 100 else Owner("telegram", "user", str(i))
        store.add_position(owner, "aave-v3", "core", (Leg("ETH", Decimal(1)),), (Leg("USDC", Decimal(100)),), Overrides(), None)
    report = await feed.tick()
    assert sum(report.requests.values()) == 1 and report.assets == 2


async def test_429_rests_the_source_for_retry_after(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko", "binance"))
    price_apis.world.coingecko.fault, price_apis.world.coingecko.retry_after = "429", 120
    await feed.tick()
    assert price_apis.world.coingecko.requests == 1
    price_apis.world.coingecko.fault = None
    advance(clock, price_apis, 60)
    await feed.tick()
    assert price_apis.world.coingecko.requests == 1  # still resting
    assert "rate-limited" in feed.health["coingecko"].status(clock.now)
    advance(clock, price_apis, 61)
    await feed.tick()
    assert price_apis.world.coingecko.requests == 2
    assert feed.health["coingecko"].status(clock.now) == "ok"


@pytest.mark.parametrize("fault", [f for f in FAULTS if f not in ("future", "old")] + ["future", "old"])
async def test_one_faulty_source_among_three_changes_nothing(price_apis, session, registry, clock, fault):
    feed = feed_for(price_apis, session, registry, clock)
    await feed.tick()
    advance(clock, price_apis)
    price_apis.world.coingecko.fault = fault
    price_apis.world.coingecko.delay = 1.0
    report = await feed.tick()
    assert report.degraded == {}
    assert feed.quotes(["ETH"]).quotes["ETH"].trusted


@pytest.mark.parametrize("fault", [f for f in FAULTS])
async def test_a_lone_faulty_source_degrades_exactly_its_assets(price_apis, session, registry, clock, fault):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko",))
    await feed.tick()
    advance(clock, price_apis)
    price_apis.world.coingecko.fault, price_apis.world.coingecko.delay = fault, 1.0
    report = await feed.tick()
    assert set(report.degraded) == {"BTC", "ETH", "WETH", "USDC"}
    assert set(report.newly_degraded) == set(report.degraded)
    snap = feed.quotes(["ETH"])
    quote = snap.quotes["ETH"]
    assert quote.price == pytest.approx(3000.0) and not quote.trusted and quote.note  # last good, said so
    price_apis.world.coingecko.fault = None
    advance(clock, price_apis)
    report = await feed.tick()
    assert report.degraded == {} and set(report.restored) == {"BTC", "ETH", "WETH", "USDC"}


async def test_two_sources_ten_percent_apart(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko", "binance"), tracked=["ETH"])
    price_apis.world.binance.skew = 1.10
    report = await feed.tick()
    assert "disagree by 10.0%" in report.degraded["ETH"]
    assert "ETH" in feed.quotes(["ETH"]).missing  # no good price ever: nothing for the math


async def test_a_sixty_percent_jump_from_one_source(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko",), tracked=["ETH"])
    await feed.tick()
    advance(clock, price_apis)
    price_apis.world.coingecko.skew = 1.6
    report = await feed.tick()
    assert "jumped +60.0%" in report.degraded["ETH"]
    assert feed.quotes(["ETH"]).quotes["ETH"].price == pytest.approx(3000.0)


async def test_a_jump_confirmed_by_a_second_source_is_taken(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko", "binance"), tracked=["ETH"])
    await feed.tick()
    advance(clock, price_apis)
    price_apis.world.prices["ETH"] = 4800.0
    report = await feed.tick()
    assert report.degraded == {} and feed.quotes(["ETH"]).quotes["ETH"].price == pytest.approx(4800.0)


async def test_a_new_asset_is_fetched_on_demand_then_cached(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko",), tracked=[])
    price_apis.world.prices["SOL"] = 150.0
    snap = await feed.snapshot(["SOL"])
    assert snap.quotes["SOL"].price == 150.0
    await feed.snapshot(["SOL"])
    assert price_apis.world.coingecko.requests == 1
    assert "SOL" in {a.symbol for a in feed.tracked()}  # asked about, so now watched


async def test_status_tells_the_truth(price_apis, session, registry, clock):
    feed = feed_for(price_apis, session, registry, clock, names=("coingecko", "binance"))
    price_apis.world.binance.fault = "500"
    await feed.tick()
    status = feed.status()
    by_name = {s.name: s for s in status.sources}
    assert by_name["coingecko"].status == "ok"
    assert "HTTP 500" in by_name["binance"].status
    assert status.degraded == {} and status.last_tick_at == clock.now


async def test_a_thousand_hostile_ticks(price_apis, session, registry, clock):
    """Random faults, skews and jumps on every source: no crash, nothing untrusted reaches a snapshot as trusted."""
    rng = random.Random(7)
    feed = feed_for(price_apis, session, registry, clock)
    world = price_apis.world
    faults = [None, None, *[f for f in FAULTS if f != "slow"]]
    for _tick in range(1000):
        answers = {}
        for name in ("coingecko", "binance", "coinbase"):
            state = getattr(world, name)
            state.fault = rng.choice(faults)
            state.skew = rng.choice([1.0, 1.0, 1.0, 1.10, 1.6, 0.3])
            answers[name] = state
        report = await feed.tick()
        advance(clock, price_apis)
        snap = feed.quotes(TRACKED)
        for asset in TRACKED:
            state = feed.guard.state(asset)
            quote = snap.quotes.get(asset)
            if quote is not None:
                assert math.isfinite(quote.price) and quote.price > 0
                assert quote.trusted == (state.trust is Trust.TRUSTED)
                if quote.source == "peg":
                    assert not quote.trusted  # every source here quotes USDC: a peg is only an assumption
            assert (asset in report.degraded) == (state.trust is not Trust.TRUSTED)
            if asset in report.degraded:
                assert report.degraded[asset]
    assert feed.health["coingecko"].requests > 0
