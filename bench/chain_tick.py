"""Benchmark: one chain tick over 100, 1,000 and 10,000 followed Aave v3 wallets on the local chain.

The real Aave v3 market runs on py-evm at Ethereum's addresses behind the loopback JSON-RPC node
(tests/chain). Fifty wallets really borrow (WETH supplied, USDC borrowed); the rest are followed
addresses with nothing there, which cost the reader the same calls. For each size it prints the
JSON-RPC requests one tick sends (the target: about ceil(N/100) plus a constant: the head, one eth_getLogs; never N) and the
wall time of the first tick (every reserve read for new accounts) and of a steady one. Most of the
wall time is py-evm executing the views in Python; a real node answers the same calls far faster.

    .venv/bin/python bench/chain_tick.py [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
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
from tests.chain.node import NodeState, serve  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402

BORROWERS = 50


def follow(store: Store, addresses: list[str]) -> None:
    """Store a followed position for each address, as /track does (one owner per ten addresses)."""
    for i, address in enumerate(addresses):
        owner = Owner("console", "user", f"u{i // 10}")
        store.add_position(owner, "aave-v3", "core", (Leg("WETH", 0),), (), Overrides(), None,
                           follows=ChainLink("ethereum", "aave-v3", address.lower(), None, {}, None))


async def measure(size: int, chain: LocalChain, borrowers: list[str], url: str, state: NodeState) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        extra = [f"0x{n:040x}" for n in range(1, size - len(borrowers) + 1)]
        follow(store, (borrowers + extra)[:size])
        clock = FakeClock()
        async with aiohttp.ClientSession() as session:
            rpc = RpcClient("ethereum", [url], session, clock.time, timeout=600)
            # py-evm runs the views in Python: give the reads all the time they need (the bot allows 3 HTTP timeouts)
            tracker = Tracker(store, AddressBook.bundled(), {"ethereum": rpc}, clock, budget=3_600)
            figures = []
            for _ in range(2):
                chain.mine()
                before, started = rpc.requests, time.perf_counter()
                saved = await tracker.tick()
                figures.append((rpc.requests - before, time.perf_counter() - started, saved))
                clock.advance(12)
        store.close()
    (first_req, first_s, _), (req, secs, saved) = figures
    target = math.ceil(size / 100)
    print(f"{size:>7,} followed wallets: {req} requests a tick (ceil(N/100) = {target}, plus the head and the log scan), "
          f"{secs:.2f} s a tick ({secs / size * 1000:.2f} ms a wallet); the first tick {first_req} requests, "
          f"{first_s:.2f} s; {saved:,} readings stored")


async def main(sizes: list[int]) -> None:
    chain = LocalChain()
    market = deploy(chain)
    market.supply(chain.accounts[1], "USDC", 10_000_000)
    borrowers = []
    for n in range(BORROWERS):
        wallet = chain.tester.add_account("0x" + f"{0xB0000 + n:064x}")
        chain.tester.send_transaction({"from": chain.deployer, "to": wallet, "value": 10**18, "gas": 21_000})
        market.supply(wallet, "WETH", 1 + n % 7)
        market.borrow(wallet, "USDC", min(1_000 + 37 * n, 1_500 * (1 + n % 7)))  # within the borrow limit
        borrowers.append(wallet)
    state = NodeState()
    runner, url = await serve(chain, state)
    print(f"Aave v3 on py-evm, {BORROWERS} borrowing wallets; JSON-RPC at {url}")
    try:
        for size in sizes:
            await measure(size, chain, borrowers, url, state)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")]))
