"""Yield pools: parsing and ranking (bundled snapshot and emulated records), and YieldBook on real SQLite and
real aiohttp against the DefiLlama emulator on 127.0.0.1, through every whole-body fault."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import core
from core.market.prices.base import SourceError, describe_failure
from core.market.yield_book import BUNDLED_AS_OF, FETCHED_AT_KEY, DefiLlamaSource, YieldBook
from core.market.yields import MAX_SANE_APY, Pool, names_for, parse_borrow_rates, parse_pools, rank_pools
from core.storage.store import Store
from tests.emulators.defillama import (
    GARBAGE_COUNT,
    GOOD_COUNT,
    GOOD_POOL_IDS,
    OUTLIER_POOL,
    SPIKE_POOL,
    LlamaState,
    defillama_app,
    sample_borrow_rates,
    sample_pools,
)
from tests.fakes import FakeClock

BUNDLED_FILE = Path(core.__file__).parent / "market" / "data" / "yields" / "defillama-pools-2022-11-06-top.json"


def picks(pools: list[Pool]) -> list[tuple[str, str, str]]:
    return [(p.project, p.chain, p.symbol) for p in pools]


@pytest.fixture(scope="module")
def snapshot() -> list[Pool]:
    pools, rejected = parse_pools(json.loads(BUNDLED_FILE.read_text(encoding="utf-8")))
    assert rejected == 0
    return pools


# ---------------------------------------------------------------- the bundled snapshot


def test_the_snapshot_is_the_file_its_sources_page_describes():
    recorded = re.search(r"SHA-256 is[\s>]+`([0-9a-f]{64})`", (BUNDLED_FILE.parent / "SOURCES.md").read_text()).group(1)
    assert hashlib.sha256(BUNDLED_FILE.read_bytes()).hexdigest() == recorded


def test_bundled_snapshot_loads_whole_and_is_dated(store, registry):
    pools, as_of = YieldBook(store, None, FakeClock(), registry).bundled()
    assert len(pools) == 154
    assert as_of == BUNDLED_AS_OF == datetime(2022, 11, 6, 23, 36, 12, tzinfo=UTC).timestamp() == 1_667_777_772
    lido = pools[0]
    # the 2022 dump has no 30-day mean, only mu (the mean since listing): kept as that, never called a 30-day mean
    assert (lido.project, lido.symbol, lido.apy, lido.apy_mean_30d, lido.tvl_usd) == ("lido", "STETH", 4.6, None, 7535123379)
    assert lido.apy_mean_listed == 4.27456 and lido.mean == (4.27456, "mean since listed")
    assert lido.tokens == ("STETH",) and not lido.il_risk and lido.exposure == "single" and not lido.stablecoin
    assert pools[2].apy_base == 1e-05  # the file's own number text, kept exactly


def test_usdc_ranking_on_the_snapshot(snapshot, registry):
    # Scores (min(apy, 1.5 * mean)): goldfinch 14.8911, uniswap-v3 USDC-WETH 10.9915, sushiswap 10.7923,
    # ferro 8.0178, vvs 4.67637 (mean 3.917 -> cap 5.876); uniswap-v2 USDC-WETH 4.66113 just misses.
    # uniswap-v3 USDC-WETH at 30.4 % is flagged as an outlier and left out.
    assert picks(rank_pools(snapshot, names_for("USDC", registry))) == [
        ("goldfinch", "Ethereum", "USDC"),
        ("uniswap-v3", "Ethereum", "USDC-WETH"),
        ("sushiswap", "Ethereum", "USDC-WETH"),
        ("ferro", "Cronos", "USDC-USDT"),
        ("vvs-finance", "Cronos", "USDT-USDC"),
    ]


def test_usdc_stable_only(snapshot, registry):
    assert picks(rank_pools(snapshot, {"USDC"}, stable_only=True)) == [
        ("goldfinch", "Ethereum", "USDC"),
        ("ferro", "Cronos", "USDC-USDT"),
        ("vvs-finance", "Cronos", "USDT-USDC"),
        ("convex-finance", "Ethereum", "FRAX-USDC"),
        ("convex-finance", "Ethereum", "DAI-USDC-USDT-SUSD"),
    ]


def test_a_spike_over_its_mean_ranks_by_the_capped_score(snapshot):
    # justlend on Tron pays 2.15091 % on a 1.24428 % mean: scored 1.86642, below aave-v3 Avalanche's 1.99812.
    ranked = rank_pools(snapshot, {"USDC"}, stable_only=True, single_only=True, limit=10)
    order = [p.project for p in ranked]
    assert order.index("aave-v3") < order.index("justlend")
    assert next(p for p in ranked if p.project == "justlend").apy > next(p for p in ranked if p.project == "aave-v3").apy


def test_steth_finds_lido(snapshot, registry):
    names = names_for("stETH", registry)
    assert names == {"STETH"}
    single = rank_pools(snapshot, names, single_only=True)
    assert (single[0].project, single[0].apy) == ("lido", 4.6)
    # Counting pairs too, Convex's ETH-STETH (5.39 %) comes first; Curve's (flagged an outlier) stays out.
    everything = rank_pools(snapshot, names)
    assert picks(everything)[:3] == [
        ("convex-finance", "Ethereum", "ETH-STETH"),
        ("lido", "Ethereum", "STETH"),
        ("yearn-finance", "Ethereum", "YVCURVE-STETH"),
    ]
    assert "curve" not in [p.project for p in everything]
    assert "curve" in [p.project for p in rank_pools(snapshot, names, include_outliers=True)]


def test_eth_means_eth_and_weth_only(snapshot, registry):
    ranked = rank_pools(snapshot, names_for("ETH", registry), limit=1000, min_tvl=0)
    assert ranked and all({"ETH", "WETH"} & set(p.tokens) for p in ranked)
    symbols = {p.symbol for p in ranked}
    assert "STETH" not in symbols and "WSTETH" not in symbols and "YVWETH" not in symbols
    assert "ETH-STETH" in symbols and "WSTETH-WETH" in symbols  # pairs that do hold ETH or WETH
    assert picks(ranked[:2]) == [("convex-finance", "Ethereum", "WETH-CVX"), ("convex-finance", "Ethereum", "WETH-CRV")]


def test_filters(snapshot):
    eth = {"ETH", "WETH"}
    assert picks(rank_pools(snapshot, {"USDC"}, chain="bsc")) == picks(rank_pools(snapshot, {"USDC"}, chain=" BSC ")) == [
        ("venus", "BSC", "USDC"), ("pancakeswap", "BSC", "USDC-BUSD")]
    no_il = rank_pools(snapshot, eth, no_il=True, limit=100)
    assert no_il and not any(p.il_risk for p in no_il)
    assert no_il[0].project == "instadapp"
    assert all(p.tvl_usd >= 500_000_000 for p in rank_pools(snapshot, eth, min_tvl=500_000_000, limit=100))
    assert [p.project for p in rank_pools(snapshot, eth, min_tvl=500_000_000)] == ["convex-finance", "aave-v2", "compound",
                                                                                     "makerdao", "makerdao"]
    assert len(rank_pools(snapshot, eth, limit=2)) == 2 and rank_pools(snapshot, eth, limit=0) == []
    assert all(p.exposure == "single" for p in rank_pools(snapshot, eth, single_only=True, limit=100))


def test_outliers_only_when_asked(snapshot):
    ranked = rank_pools(snapshot, {"USDC"}, include_outliers=True)
    assert (ranked[0].project, ranked[0].symbol, ranked[0].outlier) == ("uniswap-v3", "USDC-WETH", True)
    assert not any(p.outlier for p in rank_pools(snapshot, {"USDC"}, limit=100, min_tvl=0))


def test_ties_go_to_the_bigger_pool(snapshot):
    makers = [p for p in rank_pools(snapshot, {"WETH"}, limit=100) if p.project == "makerdao"]
    assert len(makers) == 3 and [p.tvl_usd for p in makers] == sorted((p.tvl_usd for p in makers), reverse=True)


def test_names_for(registry):
    assert names_for("eth", registry) == {"ETH", "WETH"}
    assert names_for("WETH", registry) == {"ETH", "WETH"}
    assert names_for("btc", registry) == {"BTC", "WBTC"}
    assert names_for("stETH", registry) == {"STETH"}
    assert names_for("wsteth", registry) == {"WSTETH"}
    assert names_for("USDC", registry) == {"USDC"}
    assert names_for("crv", registry) == {"CRV"}  # not in the registry: pools are matched by the name as typed


# ---------------------------------------------------------------- parsing the emulator's records


def test_garbage_records_are_counted_and_dropped():
    pools, rejected = parse_pools({"status": "success", "data": sample_pools()})
    assert (len(pools), rejected) == (GOOD_COUNT, GARBAGE_COUNT)
    assert not any(p.pool.startswith("bad-") or p.project == "junk" for p in pools)
    assert all(0 <= p.apy <= MAX_SANE_APY and p.tvl_usd > 0 for p in pools)
    first = next(p for p in pools if p.pool == GOOD_POOL_IDS[0])
    assert (first.project, first.apy) == ("aave-v3", 4.1)  # the repeated id later in the list did not replace it
    assert parse_pools(sample_pools()) == (pools, rejected)  # a bare list, like the snapshot


def test_records_that_are_not_objects_are_rejected_one_by_one():
    good = sample_pools()[0]
    assert parse_pools([42, "pool", None, [good], good]) == (parse_pools([good])[0], 4)


@pytest.mark.parametrize("body", [{"status": "success", "data": {"a": 1}}, {"status": "error", "data": []}, {}, "pools", 42, None])
def test_a_body_without_a_list_is_a_bad_body(body):
    with pytest.raises(SourceError) as caught:
        parse_pools(body)
    assert (caught.value.source, caught.value.kind) == ("defillama", "bad-body")


def test_mean_comes_from_apymean30d_then_mu():
    base = {"chain": "Ethereum", "project": "p", "symbol": "USDC", "tvlUsd": 1e7, "apy": 5.0, "pool": "x",
            "stablecoin": True, "ilRisk": "no"}
    assert parse_pools([{**base, "apyMean30d": 4.0, "mu": 3.0}])[0][0].apy_mean_30d == 4.0
    assert parse_pools([{**base, "apyMean30d": None, "mu": 3.0}])[0][0].mean == (3.0, "mean since listed")
    assert parse_pools([{**base, "apyMean30d": 4.0, "mu": 3.0}])[0][0].mean == (4.0, "30-day mean")
    pool = parse_pools([base])[0][0]
    assert (pool.apy_mean_30d, pool.exposure, pool.outlier, pool.apy_base) == (None, "single", False, None)
    assert parse_pools([{**base, "mu": -1.0}]) == ([], 1)
    assert parse_pools([{**base, "outlier": "no"}]) == ([], 1)
    assert parse_pools([{**base, "exposure": 3}]) == ([], 1)
    assert parse_pools([{**base, "apy": 10 ** 400}]) == ([], 1)
    assert parse_pools([{**base, "apy": True}]) == ([], 1)


def test_exact_token_matching(registry):
    pools, _ = parse_pools(sample_pools())
    eth = rank_pools(pools, names_for("ETH", registry), limit=100)
    assert [p.project for p in eth] == ["uniswap-v3", "aave-v3", "aave-v3", "curve-dex"]
    assert not {"WEETH", "ETHFI", "STETH"} & {p.symbol for p in eth}
    assert [p.project for p in rank_pools(pools, {"ETHFI"})] == ["ether.fi-liquid"]


# ---------------------------------------------------------------- the book against the emulator


@pytest.fixture
async def llama():
    state = LlamaState(sample_pools(), delay=2.0, borrow=sample_borrow_rates())  # well past the client's timeout
    server = TestServer(defillama_app(state), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield state, str(server.make_url("")).rstrip("/"), session
    await server.close()


@pytest.fixture
def book(llama, store, clock, registry) -> YieldBook:
    _, url, session = llama
    return YieldBook(store, DefiLlamaSource(session, url, timeout=0.8), clock, registry)


def cached_rows(store: Store) -> int:
    return store.db.execute("SELECT count(*) FROM yield_pools").fetchone()[0]


USDC_RANKED = [("uniswap-v3", "USDC-WETH"), ("morpho-blue", "USDC"), ("spiky-finance", "USDC"), ("compound-v3", "USDC"),
               ("aave-v3", "USDC")]


async def test_first_answer_fetches_and_is_live(book, llama, store, clock):
    state, _, _ = llama
    answer = await book.answer("usdc")
    assert (answer.origin, answer.note, answer.as_of) == ("live", "", clock.now)
    # The spike (90 % on a 4 % mean) is scored 6 %: below morpho's steady 7.5 %, so never first.
    assert [(p.project, p.symbol) for p in answer.pools] == USDC_RANKED
    assert answer.pools[0].pool != SPIKE_POOL
    assert state.requests == state.borrow_requests == 1 and book.source.requests == 2  # /pools, then /lendBorrow
    assert book.last_rejected == GARBAGE_COUNT and book.last_error == ""
    assert cached_rows(store) == GOOD_COUNT
    assert float(store.db.execute("SELECT value FROM kv WHERE key = ?", [FETCHED_AT_KEY]).fetchone()[0]) == clock.now


async def test_garbage_is_never_ranked(book):
    for asset in ("USDC", "ETH", "stETH"):
        for pool in (await book.answer(asset, limit=100, min_tvl=0, include_outliers=True)).pools:
            assert pool.project != "junk" and not pool.pool.startswith("bad-")


async def test_outliers_are_left_out_unless_asked(book):
    assert OUTLIER_POOL not in [p.pool for p in (await book.answer("ETH", limit=100)).pools]
    assert (await book.answer("ETH", include_outliers=True)).pools[0].pool == OUTLIER_POOL


async def test_refresh_only_after_the_interval(book, llama, clock):
    state, _, _ = llama
    first = await book.answer("USDC")
    clock.advance(YieldBook.REFRESH_SECONDS - 1)
    again = await book.answer("ETH")
    assert state.requests == 1 and (again.origin, again.as_of) == ("live", first.as_of)
    clock.advance(1)
    state.pools = [p for p in sample_pools() if p.get("project") != "morpho-blue"]
    later = await book.answer("USDC")
    assert state.requests == 2 and (later.origin, later.as_of) == ("live", clock.now)
    assert "morpho-blue" not in [p.project for p in later.pools]


async def test_a_refresh_replaces_every_row(book, llama, store):
    state, _, _ = llama
    assert await book.refresh()
    state.pools = sample_pools()[:3]
    assert await book.refresh()
    assert cached_rows(store) == 2 and book.last_rejected == 1  # the third record is garbage


async def test_concurrent_answers_share_one_fetch(book, llama):
    state, _, _ = llama
    answers = await asyncio.gather(book.answer("USDC"), book.answer("ETH"), book.answer("stETH"))
    assert state.requests == 1 and all(a.origin == "live" for a in answers)


EXPECTED_WORDS = {
    "500": "DefiLlama answered with HTTP 500",
    "429": "DefiLlama is rate-limiting us",
    "slow": "DefiLlama did not answer in time",
    "truncated": "DefiLlama sent an unreadable answer",
    "html": "DefiLlama sent an unreadable answer",
    "empty": "DefiLlama sent an unreadable answer",
    "not-list": "DefiLlama sent an unreadable answer",
    "nan": "DefiLlama sent an unreadable answer",
}


@pytest.mark.parametrize("fault", list(EXPECTED_WORDS))
async def test_a_failed_refresh_answers_from_the_cache(book, llama, store, clock, fault):
    state, _, _ = llama
    good = await book.answer("USDC")
    state.fault = fault
    clock.advance(3 * 3600)
    answer = await book.answer("USDC")
    assert state.requests == 2
    assert answer.origin == "cache" and answer.as_of == good.as_of and answer.pools == good.pools
    assert answer.note == f"{EXPECTED_WORDS[fault]}; showing data from 3 h ago"
    assert book.last_error == EXPECTED_WORDS[fault]
    assert cached_rows(store) == GOOD_COUNT


@pytest.mark.parametrize("fault", list(EXPECTED_WORDS))
async def test_never_fetched_answers_from_the_bundled_snapshot(book, llama, store, fault):
    state, _, _ = llama
    state.fault = fault
    answer = await book.answer("USDC")
    assert (answer.origin, answer.as_of) == ("bundled", BUNDLED_AS_OF)
    assert answer.note == f"{EXPECTED_WORDS[fault]}; showing DefiLlama's snapshot of 2022-11-06, not current rates"
    assert answer.pools[0].project == "goldfinch"
    assert cached_rows(store) == 0


async def test_an_empty_list_does_not_wipe_the_cache(book, llama, store, clock):
    state, _, _ = llama
    await book.answer("USDC")
    state.pools = []
    clock.advance(YieldBook.REFRESH_SECONDS)
    assert not await book.refresh()
    assert cached_rows(store) == GOOD_COUNT and (await book.answer("USDC")).origin == "cache"


async def test_unreachable(store, clock, registry):
    async with aiohttp.ClientSession() as session:
        book = YieldBook(store, DefiLlamaSource(session, "http://127.0.0.1:9", timeout=1), clock, registry)
        answer = await book.answer("USDC")
    assert answer.origin == "bundled"
    assert book.last_error in (describe_failure("defillama", "unreachable"), describe_failure("defillama", "timeout"))


async def test_after_a_failure_answers_wait_before_asking_again(book, llama, clock):
    state, _, _ = llama
    state.fault = "500"
    assert (await book.answer("USDC")).origin == "bundled"
    state.fault = None
    clock.advance(YieldBook.RETRY_SECONDS - 1)
    assert (await book.answer("USDC")).origin == "bundled" and state.requests == 1
    assert await book.refresh()  # an explicit refresh is not held back
    assert (await book.answer("USDC")).origin == "live" and state.requests == 2


async def test_answers_retry_once_the_wait_is_over(book, llama, clock):
    state, _, _ = llama
    state.fault = "429"
    await book.answer("USDC")
    state.fault = None
    clock.advance(YieldBook.RETRY_SECONDS)
    answer = await book.answer("USDC")
    assert answer.origin == "live" and state.requests == 2 and book.last_error == ""


async def test_the_cache_survives_a_new_book_and_a_new_store(book, store, clock, registry, store_target):
    fetched = await book.answer("USDC")
    again = await YieldBook(store, None, clock, registry).answer("USDC")
    assert (again.origin, again.as_of, again.pools) == ("live", fetched.as_of, fetched.pools)
    reopened = Store(store_target)  # the conftest store's database, opened afresh
    try:
        clock.advance(2 * 3600)
        offline = YieldBook(reopened, None, clock, registry)
        answer = await offline.answer("USDC")
        assert (answer.origin, answer.as_of, answer.pools) == ("cache", fetched.as_of, fetched.pools)
        assert answer.note == "No live yield source is set up; showing data from 2 h ago"
        assert not await offline.refresh()
    finally:
        reopened.close()


async def test_offline_book_uses_the_snapshot(store, clock, registry):
    book = YieldBook(store, None, clock, registry)
    answer = await book.answer("stETH", single_only=True)
    assert (answer.origin, answer.pools[0].project, answer.pools[0].apy) == ("bundled", "lido", 4.6)
    assert answer.note.startswith("No live yield source is set up; showing DefiLlama's snapshot of 2022-11-06")


async def test_best_for_never_touches_the_network(book, llama):
    state, _, _ = llama
    assert book.best_for("USDC", stable_only=True).project == "goldfinch"  # nothing cached yet: the snapshot
    assert book.best_for("stETH", single_only=True, limit=5).project == "lido"
    assert state.requests == 0
    await book.refresh()
    assert book.best_for("USDC", stable_only=True).project == "morpho-blue"
    assert book.best_for("ETH", chain="arbitrum").chain == "Arbitrum"
    assert book.best_for("SOL") is None
    assert state.requests == 1


async def test_an_answer_over_4_mb_still_loads(book, llama, store):
    # core.market.prices.http.get_json stops at 4 MB; the live /pools answer is bigger than that.
    state, _, _ = llama
    template = sample_pools()[0]
    state.pools = [{**template, "pool": f"big-{n:06d}", "symbol": f"USDC-T{n}", "tvlUsd": 1e6 + n} for n in range(10_000)]
    size = len(json.dumps({"status": "success", "data": state.pools}))
    assert size > 4 * 1024 * 1024
    assert await book.refresh(), book.last_error
    assert cached_rows(store) == 10_000


# ---------------------------------------------------------------- borrow rates (/lendBorrow)


def test_borrow_rates_keep_good_records_and_skip_garbage():
    rates = parse_borrow_rates(json.dumps(sample_borrow_rates()).encode())
    assert rates == {GOOD_POOL_IDS[0]: (5.3, None), GOOD_POOL_IDS[1]: (6.1, 0.4), GOOD_POOL_IDS[5]: (2.6, None),
                     GOOD_POOL_IDS[6]: (9.9, None)}
    with pytest.raises(SourceError):
        parse_borrow_rates(b"<html>")
    with pytest.raises(SourceError):
        parse_borrow_rates(b'{"data": []}')


async def test_borrow_rate_of_a_preset_comes_from_its_ethereum_market(book, clock):
    await book.refresh_if_due()
    rate = book.borrow_rate("aave-v3", "usdc")
    assert rate.apr == pytest.approx(0.053)
    assert (rate.reward, rate.pool.project, rate.origin, rate.as_of) == (0.0, "aave-v3", "live", clock.now)
    assert book.borrow_rate("aave-v3", "ETH").apr == pytest.approx(0.026)  # WETH on Ethereum, not Arbitrum's 9.9 %
    compound = book.borrow_rate("compound-v3", "USDC")
    assert (compound.apr, compound.reward) == pytest.approx((0.061, 0.004))
    assert book.borrow_rate("morpho", "USDC") is None  # one rate per market: not guessed
    assert book.borrow_rate("aave-v3", "DAI") is None


@pytest.mark.parametrize("fault", ["500", "garbage"])
async def test_a_failed_borrow_fetch_keeps_the_pools(book, llama, store, fault):
    state, _, _ = llama
    state.borrow_fault = fault
    answer = await book.answer("USDC")
    assert answer.origin == "live" and answer.pools
    assert book.borrow_rate("aave-v3", "USDC") is None


async def test_borrow_rates_survive_in_the_cache_and_never_come_from_2022(book, store, clock, registry, tmp_path):
    await book.refresh()
    again = YieldBook(store, None, clock, registry)
    assert again.borrow_rate("aave-v3", "USDC").apr == pytest.approx(0.053)
    assert YieldBook(Store(tmp_path / "empty.db"), None, clock, registry).borrow_rate("aave-v3", "USDC") is None


async def test_describe_says_where_yield_data_comes_from(book, llama, clock):
    state, _, _ = llama
    state.fault = "500"
    await book.refresh()
    assert book.describe() == ("DefiLlama answered with HTTP 500; showing DefiLlama's snapshot of 2022-11-06, "
                               "not current rates")
    state.fault = None
    await book.refresh()
    clock.advance(120)
    assert book.describe() == f"DefiLlama, {GOOD_COUNT} pools and 4 borrow rates, 2 min old"  # Arbitrum WETH counts too


async def test_a_restart_with_a_fresh_cache_downloads_nothing(book, llama, store, clock, registry):
    state, url, session = llama
    await book.refresh()
    clock.advance(30 * 60)  # the bot restarts half an hour later: a new book over the same database
    again = YieldBook(store, DefiLlamaSource(session, url, timeout=0.8), clock, registry)
    await again.refresh_if_due()  # what the background refresher runs, at start and every few minutes
    answer = await again.answer("USDC")
    assert state.requests == 1 and answer.origin == "live" and answer.note == ""
    clock.advance(31 * 60)  # past the hour: now it fetches
    await again.refresh_if_due()
    assert state.requests == 2


async def test_an_old_cache_with_defillama_down_says_what_really_happened(book, llama, store, clock, registry):
    state, url, session = llama
    await book.refresh()
    clock.advance(2 * 3600)
    state.fault = "500"
    again = YieldBook(store, DefiLlamaSource(session, url, timeout=0.8), clock, registry)
    fetching = asyncio.create_task(again.refresh_if_due())  # the start's fetch, still under way
    await asyncio.sleep(0)
    during = await again.answer("USDC")
    assert "being fetched" in during.note and "has not been reached" not in during.note and "2 h ago" in during.note
    await fetching
    after = await again.answer("USDC")
    assert after.note.startswith("DefiLlama answered with HTTP 500") and "2 h ago" in after.note


async def test_min_tvl_zero_means_no_floor(book):
    from core.chat.grammar import Parser

    cmd = Parser(book.registry).parse("/yield USDC min-tvl 0")
    assert dict(cmd.options)["min_tvl"] == 0.0
    assert (await book.answer("USDC", **dict(cmd.options))).pools


async def test_the_bots_refresher_leaves_a_fresh_cache_alone_at_start(llama, tmp_path):
    from bot.app import build
    from core.config import Settings

    state, url, _ = llama
    settings = Settings.from_mapping({"DATABASE_PATH": str(tmp_path / "bot.db"), "DEFILLAMA_BASE_URL": url,
                                      "COINGECKO_BASE_URL": "http://127.0.0.1:9"})
    for _start in range(2):  # two starts of the real composition root, a moment apart
        async with build(settings) as app:
            app.refresher.start()
            for _ in range(200):  # until its first tick has run to the end
                if app.refresher.record.number and app.refresher.record.duration:
                    break
                await asyncio.sleep(0.02)
            await app.refresher.stop()
            assert app.yields.provenance().origin == "live"
    assert state.requests == 1  # the second start found an hour-fresh cache and asked nothing
