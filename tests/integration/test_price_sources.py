"""The real CoinGecko, Binance and Coinbase clients on aiohttp against the loopback emulators."""

from __future__ import annotations

import aiohttp
import pytest

from core.market.prices.base import SourceError
from core.market.prices.binance import BinanceSource
from core.market.prices.coinbase import CoinbaseSource
from core.market.prices.coingecko import CoinGeckoSource


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def make(name, apis, session, **kw):
    if name == "coingecko":
        return CoinGeckoSource(session, apis.coingecko_url, **kw)
    if name == "binance":
        return BinanceSource(session, apis.binance_url, **kw)
    return CoinbaseSource(session, apis.coinbase_url, **kw)


def assets(registry, *symbols):
    return [registry.get(s) for s in symbols]


SOURCES = ["coingecko", "binance", "coinbase"]


@pytest.mark.parametrize("name", SOURCES)
async def test_one_request_covers_every_asset(price_apis, session, registry, name):
    source = make(name, price_apis, session)
    wanted = [a for a in assets(registry, "ETH", "WETH", "BTC", "WBTC", "USDC", "SOL") if source.supports(a)]
    price_apis.world.prices["SOL"] = 150.0
    quotes = await source.fetch(wanted)
    assert quotes["ETH"].price == pytest.approx(3000.0)
    assert quotes["BTC"].price == pytest.approx(60000.0)
    assert getattr(price_apis.world, name).requests == 1 == source.requests


async def test_coingecko_sends_its_key_in_the_demo_header(price_apis, session, registry):
    await make("coingecko", price_apis, session, api_key="demo-123").fetch(assets(registry, "ETH"))
    assert price_apis.world.coingecko.headers[-1].get("x-cg-demo-api-key") == "demo-123"


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("fault, kind", [("500", "http-500"), ("429", "rate-limited"), ("html", "bad-body"),
                                         ("empty", "bad-body"), ("truncated", "bad-body")])
async def test_transport_faults_become_source_errors(price_apis, session, registry, name, fault, kind):
    getattr(price_apis.world, name).fault = fault
    with pytest.raises(SourceError) as caught:
        await make(name, price_apis, session).fetch(assets(registry, "ETH"))
    assert caught.value.kind == kind
    if fault == "429":
        assert caught.value.retry_after == 1


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("fault", ["nan", "inf", "negative", "null", "missing"])
async def test_garbage_prices_never_come_out(price_apis, session, registry, name, fault):
    getattr(price_apis.world, name).fault = fault
    try:
        quotes = await make(name, price_apis, session).fetch(assets(registry, "ETH", "BTC"))
    except SourceError as err:  # strict JSON refuses NaN / Infinity outright
        assert err.kind == "bad-body"
        return
    assert quotes == {}


@pytest.mark.parametrize("name", SOURCES)
async def test_a_slow_answer_times_out(price_apis, session, registry, name):
    state = getattr(price_apis.world, name)
    state.fault, state.delay = "slow", 2.0
    with pytest.raises(SourceError) as caught:
        await make(name, price_apis, session, timeout=0.2).fetch(assets(registry, "ETH"))
    assert caught.value.kind == "timeout"


async def test_unreachable_source(session, registry):
    with pytest.raises(SourceError) as caught:
        await CoinGeckoSource(session, "http://127.0.0.1:9", timeout=1).fetch(assets(registry, "ETH"))
    assert caught.value.kind in ("unreachable", "timeout")


async def test_coingecko_dates_its_prices(price_apis, session, registry):
    price_apis.world.now = 1_700_000_000
    quotes = await make("coingecko", price_apis, session).fetch(assets(registry, "ETH"))
    assert quotes["ETH"].as_of == 1_700_000_000


async def test_a_large_answer_is_read_to_its_end(price_apis, session, registry):
    # the real Binance ticker lists thousands of pairs; one read() returns only the first chunk of it
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    pairs = [{"symbol": f"X{i}USDT", "price": "1.0"} for i in range(20_000)] + [{"symbol": "ETHUSDT", "price": "3000.5"}]

    async def ticker(request):
        return web.json_response(pairs)

    app = web.Application()
    app.router.add_get("/api/v3/ticker/price", ticker)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        quotes = await BinanceSource(session, str(server.make_url("")).rstrip("/")).fetch(assets(registry, "ETH"))
    finally:
        await server.close()
    assert quotes["ETH"].price == 3000.5
