"""Benchmark: /risk for a position with three volatile collateral assets (the simulation, in the heavy-work pool of
worker processes as the bot runs it), and the warning tick over 100,000 positions with and without /risk
requests running beside it.

    .venv/bin/python bench/risk.py [--positions 100000] [--asks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evaluate import BASE, EXTRA, drift, registry, set_prices, store_positions  # noqa: E402
from core.chat.assistant import Assistant  # noqa: E402
from core.chat.heavy import HeavyWork  # noqa: E402
from core.lending.models import Actor, ChatRef, Owner  # noqa: E402
from core.lending.protocols import Presets  # noqa: E402
from core.market.prices.feed import PriceFeed  # noqa: E402
from core.market.prices.history import PriceHistory  # noqa: E402
from core.storage.store import Store  # noqa: E402
from core.watch.monitor import Monitor  # noqa: E402
from core.watch.outbox import Outbox  # noqa: E402
from tests.fakes import FakeClock, FakePriceBook  # noqa: E402


def alice() -> Actor:
    user = Owner("console", "user", "alice")
    return Actor(user, ChatRef("console", "alice", False), "alice")


async def main(positions: int, asks: int) -> None:
    reg, presets = registry(), Presets.bundled()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        rng = random.Random(2)
        extra = {s: rng.uniform(1, 100) for s in EXTRA}
        store_positions(path, positions, extra)
        store, clock = Store(path), FakeClock()
        feed = PriceFeed([], reg, clock)
        monitor = Monitor(store, feed, reg, presets, clock, Outbox(store))
        monitor.load()
        prices = {**BASE, **extra}
        set_prices(feed, prices, clock.now)
        await monitor.tick()  # the first look

        heavy = HeavyWork(workers=1)  # a worker process, as `collateral-bot run` starts them
        bot = Assistant(store, FakePriceBook({**BASE, "SOL": 150.0}, clock), reg, presets, clock, heavy=heavy,
                        history=PriceHistory(store.db))
        me = alice()
        added = await bot.handle(me, "/add 5 ETH 0.2 BTC 100 SOL borrow 15000 USDC on custom ltv 70% lt 80%")
        assert not added.error, added
        number = store.positions(me.user)[-1].number
        ask = f"/risk {number}"
        reply = await bot.handle(me, ask)  # warms the worker (its first job imports numpy)
        assert not reply.error, reply
        answers = []
        for _ in range(asks):
            t = time.perf_counter()
            reply = await bot.handle(me, ask)
            answers.append(time.perf_counter() - t)
        print(f"/risk, 3 volatile collateral assets (ETH, BTC, SOL families), 8,000 hourly paths over 30 days, in a "
              f"worker process: median {statistics.median(answers) * 1000:.0f} ms, worst {max(answers) * 1000:.0f} ms "
              f"over {asks} asks")

        async def ticks(n: int) -> list[float]:
            out = []
            for _ in range(n):
                clock.advance(60)
                drift(prices, rng, 0.002)
                set_prices(feed, prices, clock.now)
                t = time.perf_counter()
                await monitor.tick()
                out.append(time.perf_counter() - t)
                await asyncio.sleep(0.05)  # ticks spaced out, so /risk answers keep coming in between
            return out

        alone = await ticks(40)
        busy = True

        async def flood() -> int:
            done = 0
            while busy:
                await bot.handle(me, ask)
                done += 1
            return done

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.2)
        beside = await ticks(40)
        busy = False
        done = await flooding
        print(f"warning tick over {positions:,} positions: alone median {statistics.median(alone) * 1000:.1f} ms "
              f"(worst {max(alone) * 1000:.1f}); with /risk asked without pause beside it ({done} answered meanwhile) "
              f"median {statistics.median(beside) * 1000:.1f} ms (worst {max(beside) * 1000:.1f})")
        heavy.close()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--asks", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.positions, args.asks))
