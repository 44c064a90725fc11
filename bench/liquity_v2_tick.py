"""Benchmark: one chain tick over followed Liquity v2 troves on the local chain (the real liquity/bold contracts at
Ethereum's addresses, on py-evm behind the loopback JSON-RPC node).

The WETH branch holds `--troves` troves at rates from 0.5 % up; `--followed` of them, spread over the list, are
followed. It prints the JSON-RPC requests of a steady tick (the target: the head, one aggregate per 100 troves
for the branch and its troves, a page of the sorted list per 250 troves up to the deepest followed one, one
eth_getLogs; never one per trove) and its wall time, and checks one trove's debt in front against Liquity's own
DebtInFrontHelper. Most of the time is py-evm running the views in Python.

    .venv/bin/python bench/liquity_v2_tick.py [--troves 300] [--followed 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from core.chain.addresses import AddressBook  # noqa: E402
from core.chain.rpc import RpcClient  # noqa: E402
from core.chain.tracker import Tracker  # noqa: E402
from core.lending.models import Leg, Overrides, Owner  # noqa: E402
from core.storage.store import ChainLink, Store  # noqa: E402
from tests.chain.aave_market import deploy  # noqa: E402
from tests.chain.evm import LocalChain  # noqa: E402
from tests.chain.liquity_v2 import ARTIFACTS, DEBT_IN_FRONT, WAD, deploy_liquity_v2  # noqa: E402
from tests.chain.morpho_market import deploy_morpho  # noqa: E402
from tests.chain.node import NodeState, serve  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402


async def main(troves: int, followed: int) -> None:
    chain = LocalChain()
    market = deploy(chain)
    market.blue = deploy_morpho(market)
    v2 = deploy_liquity_v2(market)
    t = time.perf_counter()
    ids = [v2.open(chain.accounts[2 + n % 8], "WETH", 3, 2_500, 0.005 + 0.0005 * n, index=n // 8) for n in range(troves)]
    print(f"{troves} troves opened in {time.perf_counter() - t:.1f} s")
    chosen = ids[:: max(1, troves // followed)][:followed]
    state = NodeState()
    runner, url = await serve(chain, state)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        for n, trove in enumerate(chosen):
            owner = chain.accounts[2 + ids.index(trove) % 8].lower()
            store.add_position(Owner("console", "user", f"u{n}"), "liquity-v2", "WETH", (Leg("WETH", 0),), (), Overrides(),
                               None, follows=ChainLink("ethereum", "liquity-v2", owner, None, {}, None,
                                                       market_ref=f"WETH:{trove}"))
        clock = FakeClock()
        async with aiohttp.ClientSession() as session:
            rpc = RpcClient("ethereum", [url], session, clock.time, timeout=600)
            tracker = Tracker(store, AddressBook.bundled(), {"ethereum": rpc}, clock, budget=3_600)
            for tick in ("first", "steady"):
                chain.mine()
                before = len(state.requests)
                t = time.perf_counter()
                saved = await tracker.tick()
                took = time.perf_counter() - t
                asked = state.requests[before:]
                print(f"{tick} tick: {saved} troves read, {len(asked)} requests "
                      f"({asked.count('eth_call')} eth_call, {asked.count('eth_getLogs')} eth_getLogs), {took:.2f} s")
        deepest = chosen[-1]
        helper = chain.at(ARTIFACTS["DebtInFrontHelper"], DEBT_IN_FRONT)
        theirs = helper.call("getDebtBetweenInterestRateAndTrove", 0, 0, 2**256 - 1, deepest, 0, 0)[0] / WAD
        ours = next(x for x in store.chain_links() if x.market_ref == f"WETH:{deepest}").reading["system"]["front"]
        print(f"the deepest followed trove: {ours:,.2f} BOLD in front by the bot's walk, {theirs:,.2f} by DebtInFrontHelper")
        store.close()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--troves", type=int, default=300)
    parser.add_argument("--followed", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.troves, args.followed))
