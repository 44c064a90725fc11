"""The real CoinGecko client on aiohttp against the loopback emulator, including its faults."""

from __future__ import annotations

import aiohttp
import pytest

from core.prices.base import SourceError
from core.prices.book import OnDemandPriceBook
from core.prices.coingecko import CoinGeckoSource
from tests.fakes import FakeClock


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def assets(registry, *symbols):
    return [registry.get(s) for s in symbols]


async def test_one_request_covers_every_asset(coingecko, session, registry):
    state, url = coingecko
    source = CoinGeckoSource(session, url)
    quotes = await source.fetch(assets(registry, "ETH", "WETH", "BTC", "USDC"))
    assert quotes["ETH"].price == 3000.0 and quotes["BTC"].price == 60000.0
    assert len(state.requests) == 1
    assert set(state.requests[0]["query"]["ids"].split(",")) == {"ethereum", "weth", "bitcoin", "usd-coin"}


async def test_demo_and_pro_keys_go_in_their_headers(coingecko, session, registry):
    state, url = coingecko
    await CoinGeckoSource(session, url, api_key="demo-123").fetch(assets(registry, "ETH"))
    assert state.requests[-1]["headers"].get("x-cg-demo-api-key") == "demo-123"


@pytest.mark.parametrize("fault, kind", [("500", "http-500"), ("429", "rate-limited"), ("html", "bad-body"),
                                         ("empty", "bad-body"), ("truncated", "bad-body"), ("nan", "bad-body")])
async def test_faults_become_source_errors(coingecko, session, registry, fault, kind):
    state, url = coingecko
    state.fault = fault
    with pytest.raises(SourceError) as caught:
        await CoinGeckoSource(session, url).fetch(assets(registry, "ETH"))
    assert caught.value.kind == kind
    if fault == "429":
        assert caught.value.retry_after == 1


async def test_a_slow_answer_times_out(coingecko, session, registry):
    state, url = coingecko
    state.fault, state.delay = "slow", 2.0
    with pytest.raises(SourceError) as caught:
        await CoinGeckoSource(session, url, timeout=0.2).fetch(assets(registry, "ETH"))
    assert caught.value.kind == "timeout"


@pytest.mark.parametrize("bad", [None, -5.0, 0.0, '"abc"', "1e999", "true"])
async def test_bad_prices_are_dropped_not_trusted(coingecko, session, registry, bad):
    state, url = coingecko
    state.prices["ethereum"] = bad
    quotes = await CoinGeckoSource(session, url).fetch(assets(registry, "ETH", "BTC"))
    assert "ETH" not in quotes and quotes["BTC"].price == 60000.0


async def test_unreachable_source(session, registry):
    with pytest.raises(SourceError) as caught:
        await CoinGeckoSource(session, "http://127.0.0.1:9", timeout=1).fetch(assets(registry, "ETH"))
    assert caught.value.kind in ("unreachable", "timeout")


async def test_book_caches_briefly_and_falls_back(coingecko, session, registry):
    state, url = coingecko
    clock = FakeClock()
    book = OnDemandPriceBook([CoinGeckoSource(session, url)], registry, clock, ttl=30)
    snap = await book.snapshot(["ETH", "USD"])
    assert snap.quotes["ETH"].price == 3000.0 and snap.quotes["USD"].source == "fixed"
    await book.snapshot(["ETH"])
    assert len(state.requests) == 1  # cached
    clock.advance(31)
    state.fault = "500"
    snap = await book.snapshot(["ETH", "USDC", "SOL"])
    assert snap.quotes["ETH"].price == 3000.0  # the stale quote is better than none, and it is dated
    assert snap.quotes["USDC"].price == 1.0
    assert "SOL" in snap.missing and "HTTP 500" in snap.missing["SOL"]


async def test_book_says_why_a_price_is_missing(coingecko, session, registry):
    state, url = coingecko
    book = OnDemandPriceBook([CoinGeckoSource(session, url)], registry, FakeClock())
    snap = await book.snapshot(["SOL", "USDS"])
    assert snap.missing["SOL"].startswith("CoinGecko")
    assert snap.quotes["USDS"].source == "peg"


async def test_a_failed_source_rests_before_the_next_try(coingecko, session, registry):
    state, url = coingecko
    clock = FakeClock()
    book = OnDemandPriceBook([CoinGeckoSource(session, url)], registry, clock, ttl=0)
    state.fault = "500"
    await book.snapshot(["SOL"])
    await book.snapshot(["SOL"])
    assert len(state.requests) == 1
    clock.advance(OnDemandPriceBook.RETRY_PAUSE + 1)
    state.fault = None
    state.prices["solana"] = 150.0
    assert (await book.snapshot(["SOL"])).quotes["SOL"].price == 150.0
