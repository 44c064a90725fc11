"""Benchmark: one price tick against the emulated CoinGecko, Binance and Coinbase APIs.

For 10, 100 and 1,000 tracked assets (and, for 10 assets, a store of 100,000 positions) it
prints requests per tick and wall time per tick (median and worst of the runs). The emulators
run in a child process so the figures are the bot's side plus loopback HTTP.

    .venv/bin/python bench/price_tick.py [--ticks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from core.lending.assets import AssetRegistry  # noqa: E402
from core.lending.models import Asset, Leg, Overrides, Owner  # noqa: E402
from core.market.prices.binance import BinanceSource  # noqa: E402
from core.market.prices.coinbase import CoinbaseSource  # noqa: E402
from core.market.prices.coingecko import CoinGeckoSource  # noqa: E402
from core.market.prices.feed import PriceFeed  # noqa: E402
from core.ports import SystemClock  # noqa: E402
from core.storage.store import Store  # noqa: E402
from tests.emulators.prices import PriceWorld, price_app  # noqa: E402


def synthetic_registry(n: int) -> AssetRegistry:
    """n made-up assets, each quoted by all three sources."""
    return AssetRegistry(
        Asset(f"C{i}", f"Coin {i}", source_ids=(("binance", f"C{i}USDT"), ("coinbase", f"C{i}-USD"), ("coingecko", f"coin-{i}")))
        for i in range(n)
    )


def serve(n: int, port: int) -> None:
    """Child process: the three APIs quoting n assets."""
    world = PriceWorld(prices={f"C{i}": 10.0 + i for i in range(n)})
    web.run_app(price_app(world, synthetic_registry(n)), host="127.0.0.1", port=port, print=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def measure(n: int, ticks: int, positions: int) -> dict:
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(port)])
    try:
        root = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # wait for the child to listen
                try:
                    async with session.get(f"{root}/binance/api/v3/ticker/price"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            registry = synthetic_registry(n)
            with tempfile.TemporaryDirectory() as tmp:
                store = Store(Path(tmp) / "bench.db")
                if positions:
                    store.add_position(Owner("bench", "user", "x"), "custom", "custom", (Leg("C0", Decimal(1)),), (), Overrides(), None)
                    store.db.insert_all("positions", [{"owner_key": "bench:user:x", "number": i, "protocol": "custom", "market": "custom", "overrides": "{}",
                          "created_at": "", "updated_at": ""} for i in range(2, positions + 1)])
                    store.db.insert_all("legs", [{"position_id": i, "side": "collateral", "asset": f"C{i % n}", "amount": "1"}
                                                 for i in range(2, positions + 1)])
                sources = [CoinGeckoSource(session, f"{root}/coingecko"), BinanceSource(session, f"{root}/binance"),
                           CoinbaseSource(session, f"{root}/coinbase")]
                feed = PriceFeed(sources, registry, SystemClock(), in_use=store.assets_in_use if positions else lambda: [a.symbol for a in registry])
                await feed.tick()  # warm-up: connections, first prices
                times, requests = [], []
                for _ in range(ticks):
                    began = time.perf_counter()
                    report = await feed.tick()
                    times.append(time.perf_counter() - began)
                    requests.append(sum(report.requests.values()))
                store.close()
            assert not report.degraded, report.degraded
            return {"assets": n, "positions": positions, "requests": statistics.median(requests),
                    "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}
    finally:
        child.terminate()
        child.wait()


async def main(ticks: int) -> None:
    print(f"price tick, 3 sources (CoinGecko, Binance, Coinbase), {ticks} ticks each, {os.cpu_count()} CPUs")
    print(f"{'assets':>7} {'positions':>10} {'requests/tick':>14} {'median ms':>10} {'max ms':>8}")
    for n, positions in ((10, 0), (100, 0), (1000, 0), (10, 1000), (10, 100_000)):
        r = await measure(n, ticks, positions)
        print(f"{r['assets']:>7} {r['positions']:>10,} {r['requests']:>14.0f} {r['median_ms']:>10.1f} {r['max_ms']:>8.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--ticks", type=int, default=20)
        asyncio.run(main(parser.parse_args().ticks))
