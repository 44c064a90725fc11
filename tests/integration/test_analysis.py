"""The analysis commands through the Assistant: /yield /rate /carry /backtest /il /chart, on real data."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.render import plain_text
from core.lending.numbers import fmt_usd
from core.market.carry import apr_to_apy, carry
from core.market.prices.history import PriceHistory
from core.market.prices.replay import load_candles
from core.market.yield_book import DefiLlamaSource, YieldBook
from core.market.yields import names_for, rank_pools
from core.watch import backtest as bt
from tests.emulators.defillama import LlamaState, defillama_app, sample_borrow_rates, sample_pools


@pytest.fixture
def analyst(assistant, store, clock, registry):
    assistant.yields = YieldBook(store, None, clock, registry)  # offline: the bundled DefiLlama snapshot
    assistant.history = PriceHistory(store.db)
    return assistant


async def text_of(assistant, who, command):
    reply = await assistant.handle(who, command)
    return reply, plain_text(reply)


async def test_yield_ranks_the_bundled_snapshot_and_says_how_old(analyst, alice, registry):
    reply, text = await text_of(analyst, alice, "/yield USDC")
    assert not reply.error and "Where USDC earns" in text
    expected = rank_pools(analyst.yields.bundled()[0], names_for("USDC", registry))
    assert [line.label for line in reply.sections[0].lines] == [f"{n}. {p.project}" for n, p in enumerate(expected, start=1)]
    assert "showing DefiLlama's snapshot of 2022-11-06, not current rates." in text
    _, text = await text_of(analyst, alice, "/yield stETH")
    assert "lido" in text and "APY 4.60%" in text
    reply, _ = await text_of(analyst, alice, "/yield USDC min-tvl 1000b")
    assert "No pool for USDC" in reply.title


async def test_rate_and_carry_by_hand(analyst, alice):
    await analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    reply, text = await text_of(analyst, alice, "/rate 1 5%")
    assert f"{apr_to_apy(0.05):.2%} APY" in text
    # 15,000 debt at 5 % APR accrued every second = 15,000 (e^0.05 - 1) = 769.07; deployed at 8 % = 1,200; ETH earns
    # nothing; equity 30,000 - 15,000 -> net 430.93 = 2.87 %; break-even ln(1.08) = 7.70 % APR
    _, text = await text_of(analyst, alice, "/carry 1 yield 8%")
    assert "$769.07 a year" in text and "$1,200.00 a year" in text
    assert "$430.93 a year on $15,000.00 of equity: 2.87%" in text
    assert "7.70% APR: above it" in text and "pays for itself" in text
    _, text = await text_of(analyst, alice, "/carry 1")  # the best bundled USDC pool instead of a given yield
    expected = analyst.yields.best_for("USDC", stable_only=True, no_il=True)
    c = carry(15000, 0.05, 15000, expected.apy / 100, 30000, 0, 15000)
    assert f"{c.net_on_equity:.2%}" in text and expected.project in text


@pytest.fixture
async def live_analyst(assistant, store, clock, registry):
    """The Assistant with its yields from the DefiLlama emulator on 127.0.0.1 (pools and /lendBorrow)."""
    server = TestServer(defillama_app(LlamaState(sample_pools(), borrow=sample_borrow_rates())), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        assistant.yields = YieldBook(store, DefiLlamaSource(session, str(server.make_url("")).rstrip("/")), clock, registry)
        yield assistant
    await server.close()


async def test_carry_takes_the_borrow_rate_from_the_lending_data(live_analyst, alice):
    await live_analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    # Aave's USDC at 5.3 % APR, accrued every second: 15,000 (e^0.053 - 1) = 816.44 a year; deployed in the best stable
    # no-IL USDC pool (morpho-blue, 7.5 %): 1,125; net 308.56 on 15,000 = 2.06 %
    _, text = await text_of(live_analyst, alice, "/carry 1")
    assert "$15,000.00 at 5.30% APR (aave-v3 USDC variable rate from DefiLlama, 0 s old), 5.44% APY" in text
    assert "$816.44 a year" in text
    assert "$308.56 a year on $15,000.00 of equity: 2.06%" in text and "pays for itself" in text
    _, text = await text_of(live_analyst, alice, "/rate 1")
    assert "#1 borrows at 5.30% APR (5.44% APY" in text and "From: aave-v3 USDC variable rate from DefiLlama" in text
    await live_analyst.handle(alice, "/rate 1 4%")  # the owner's own figure wins
    _, text = await text_of(live_analyst, alice, "/carry 1")
    assert "at 4.00% APR (set with /rate 1), 4.08% APY compounded every second: $612.16 a year" in text  # 15,000 (e^0.04 - 1)
    await live_analyst.handle(alice, "/rate 1 off")  # and clearing it brings the lending data back
    _, text = await text_of(live_analyst, alice, "/carry 1")
    assert "5.30% APR (aave-v3" in text
    await live_analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on compound-v3")
    _, text = await text_of(live_analyst, alice, "/carry 2")
    assert "6.10% APR (compound-v3 USDC variable rate from DefiLlama, 0 s old, borrowers also earn 0.40% in rewards)" in text
    await live_analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on morpho lltv 86%")
    _, text = await text_of(live_analyst, alice, "/carry 3")  # DefiLlama has no one rate for a Morpho market
    assert "an unknown rate" in text and "/rate 3 5.2%" in text
    _, text = await text_of(live_analyst, alice, "/rate 3")
    assert "No borrow rate is known for #3" in text
    await live_analyst.handle(alice, "/add 10 ETH borrow 10000 LUSD on liquity-v1")
    _, text = await text_of(live_analyst, alice, "/carry 4")
    assert "at 0.00% APR (Liquity v1 charges no interest, only a one-off borrowing fee): $0.00 a year" in text


async def test_carry_counts_staking_yield_on_liquid_staking_collateral(analyst, prices, alice):
    prices.prices["stETH"] = 3000.0
    await analyst.handle(alice, "/add 10 stETH borrow 10000 USDC on custom lt 80%")
    _, text = await text_of(analyst, alice, "/carry 1 yield 0%")
    assert "Collateral earns" in text and "lido" in text  # stETH's own 4.6 % in the snapshot
    assert "Set what the debt costs with /rate 1" in text


async def test_backtest_matches_the_module_on_the_raw_history(analyst, alice, registry):
    await analyst.handle(alice, "/add 10 ETH borrow 900 USDC on aave-v3")
    reply, text = await text_of(analyst, alice, "/backtest 1 2020-03")
    direct = bt.backtest([bt.Leg("ETH", 10.0, 0.83)], [bt.Owed("USDC", 900.0, False)], 1.5, 1.2, "2020-03", load_candles(), registry)
    assert reply.sections[0].title == "2020-03"
    assert f"lowest {math.floor(direct.lowest_hf * 100) / 100:.2f}" in text
    # the Liquidation line itself: "survived" alone also matches "Would have survived with"
    lines = {line.label: line.value for line in reply.sections[0].lines}
    if direct.liquidated_at is None:
        assert lines["Liquidation"] == "survived"
    else:
        when = datetime.fromtimestamp(direct.liquidated_at, UTC).strftime("%Y-%m-%d %H:%M")
        at = ", ".join(f"{a} {fmt_usd(p)}" for a, p in direct.liquidation_prices.items())
        assert lines["Liquidation"] == f"on {when} at {at}"
        assert lines["Would have survived with"].endswith("more collateral")
    _, text = await text_of(analyst, alice, "/backtest 1")
    for window in ("2020-03", "2021-05", "2022-06", "2022-11"):
        assert window in text


async def test_il_vectors(analyst, alice):
    _, text = await text_of(analyst, alice, "/il ETH-USDC 3000 4500")
    assert f"{2 * math.sqrt(1.5) / 2.5 - 1:.4%}" in text
    _, text = await text_of(analyst, alice, "/il ETH-USDC 3000 3500 range 2000-4000")
    assert "-1.8892%" in text and "-0.2963%" in text and "1.406655 ETH + 5,780.04 USDC" in text
    _, text = await text_of(analyst, alice, "/il ETH-USDC 3000 5000 range 2000-4000")
    assert "-16.8612%" in text and "out of range" in text


async def test_charts_are_pictures(analyst, alice, clock, store):
    await analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    reply, _ = await text_of(analyst, alice, "/chart 1 whatif")
    assert reply.attachment.mime == "image/png" and reply.attachment.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert [line.value for line in reply.sections[0].lines][0] == "$1,807.23"  # the liquidation level drawn
    reply, text = await text_of(analyst, alice, "/chart 1")
    assert reply.attachment is None and "Not enough ETH price history" in text
    for i in range(12):
        analyst.history.record(clock.now - 3600 * (12 - i), {"ETH": 3000.0 + 10 * i})
    reply, _ = await text_of(analyst, alice, "/chart 1")
    assert reply.attachment is not None and len(reply.attachment.content) > 10_000


@pytest.mark.parametrize("text", ["/yield", "/yield FOO", "/yield USDC chain", "/yield USDC min-tvl x", "/rate", "/rate 1 -5%",
                                  "/carry", "/carry 1 yield", "/backtest 1 1999-01", "/il ETH 1 2", "/il ETH-USDC 0 2",
                                  "/il ETH-USDC 3000 4500 range 4000-5000", "/chart", "/chart 1 sideways", "/rate 9 5%"])
async def test_bad_analysis_input_answers_with_usage(analyst, alice, store, text):
    counts = store.counts()
    reply = await analyst.handle(alice, text)
    assert reply.error and reply.usage and store.counts() == counts


async def test_carry_compounds_the_debt_so_a_rate_just_under_the_yield_can_lose(analyst, alice):
    await analyst.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await analyst.handle(alice, "/rate 1 9.9%")
    _, text = await text_of(analyst, alice, "/carry 1 yield 10.2%")
    # 15,000 (e^0.099 - 1) = 1,560.99 against 15,000 x 10.2 % = 1,530 earned; break-even ln(1.102) = 9.71 % APR
    assert round(15000 * math.expm1(0.099), 2) == 1560.99 and round(math.log(1.102), 4) == 0.0971
    assert "$1,560.99 a year" in text and "$1,530.00 a year" in text and "9.71% APR: above it" in text
    assert "costs more than the borrowed money earns" in text and "pays for itself" not in text


async def test_liquity_v1_carry_puts_only_what_was_received_to_work(analyst, alice):
    await analyst.handle(alice, "/add 10 ETH borrow 15000 LUSD on liquity-v1")
    _, text = await text_of(analyst, alice, "/carry 1 yield 8%")
    # the trove books 15,275 (15,000 + 0.5 % + 200), but 15,000 was received: 1,200 a year, no interest;
    # equity 30,000 - 15,275 = 14,725 -> 1,200 / 14,725 = 8.15 %
    assert "$15,000.00 at 8.00% APY" in text and "$1,200.00 a year on $14,725.00 of equity: 8.15%" in text


async def test_liquid_staking_collateral_earns_its_issuers_staking_yield(analyst, prices, alice):
    prices.prices["wstETH"] = 3500.0
    await analyst.handle(alice, "/add 10 wstETH borrow 15000 USDC on aave-v3")
    _, text = await text_of(analyst, alice, "/carry 1 yield 8%")
    # Lido's stETH pool in the bundled 2022-11-06 snapshot: 4.60 %, on $35,000 of wstETH = 1,610 a year
    assert "$35,000.00 of wstETH at 4.60% (lido staking): $1,610.00 a year" in text
    assert "aave" not in text.split("Collateral earns")[1].split("\n")[0]


async def test_the_bundled_snapshot_s_mean_is_labelled_as_what_it_is(analyst, alice):
    _, text = await text_of(analyst, alice, "/yield stETH")
    assert "mean since listed 4.27%" in text and "30-day mean" not in text


async def test_backtest_offers_each_collateral_as_an_alternative_not_a_sum(analyst, alice):
    await analyst.handle(alice, "/add 10 ETH 0.5 WBTC borrow 20000 USDC on aave-v3")
    reply, _ = await text_of(analyst, alice, "/backtest 1 2020-03")
    saved = {line.label: line.value for line in reply.sections[0].lines}["Would have survived with"]
    assert saved.startswith("either ") and " ETH, or " in saved and saved.endswith("WBTC more collateral (any one of them)")
