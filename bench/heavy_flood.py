"""Benchmark: a flood of charts and backtests must not slow warnings or light commands.

The real composition root (store, price feed against the loopback price emulators, monitor,
dispatcher, assistant with its heavy-work pool). Thirty accounts each send `/chart 1 whatif` or
`/backtest 1 all` every 2 s (their 30-a-minute limit) while a probe user runs `/positions` every
0.25 s and a probe position is pushed across its danger line each second (its warning timed from
the start of the tick to its delivery). The same run measures a quiet phase first, then the flood,
and prints both and their ratios (target: within 1.5x).

    .venv/bin/python bench/heavy_flood.py [--seconds 15] [--accounts 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer  # noqa: E402

from bot.app import build  # noqa: E402
from core.config import Settings  # noqa: E402
from core.lending.assets import AssetRegistry  # noqa: E402
from core.lending.models import Actor, ChatRef, Owner  # noqa: E402
from tests.emulators.prices import VECTOR_PRICES, PriceWorld, price_app  # noqa: E402

warnings.filterwarnings("ignore")


class Recorder:
    """A notifier for the probe's console chat: notes when each warning arrives."""

    platform = "console"

    def __init__(self):
        self.arrived: list[float] = []

    def accepts(self, chat) -> bool:
        return chat.chat_id == "probe"

    async def send(self, chat, notice) -> None:
        self.arrived.append(time.perf_counter())


def actor(name: str) -> Actor:
    return Actor(Owner("console", "user", name), ChatRef("console", name), name)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def phase(app, world, recorder, seconds: float, flood: int) -> dict:
    """Light-command and warning latencies over `seconds`, with `flood` accounts sending heavy commands."""
    stop = time.perf_counter() + seconds
    light: list[float] = []
    warn: list[float] = []
    heavy_done = [0]

    async def prober() -> None:
        probe = actor("probe")
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await app.assistant.handle(probe, "/positions")
            light.append(time.perf_counter() - t)
            await asyncio.sleep(0.25)

    async def ticker() -> None:
        low = False
        while time.perf_counter() < stop:
            low = not low
            world.prices["BTC"] = 36000.0 if low else 60000.0
            before = len(recorder.arrived)
            t = time.perf_counter()
            await app.feed.tick()
            await app.monitor.tick()
            while len(recorder.arrived) == before and time.perf_counter() - t < 30:
                await asyncio.sleep(0.005)
            if len(recorder.arrived) > before:
                warn.append(recorder.arrived[-1] - t)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t)))

    async def flooder(n: int) -> None:
        who = actor(f"flood{n}")
        text = "/chart 1 whatif" if n % 2 else "/backtest 1 all"
        await asyncio.sleep(n * 2.0 / max(1, flood))  # spread over the 2 s pace
        while time.perf_counter() < stop:
            t = time.perf_counter()
            reply = await app.assistant.handle(who, text)
            heavy_done[0] += not reply.error
            await asyncio.sleep(max(0.0, 2.0 - (time.perf_counter() - t)))

    await asyncio.gather(prober(), ticker(), *(flooder(n) for n in range(flood)))
    return {"light": light, "warn": warn, "heavy": heavy_done[0]}


async def main(seconds: float, accounts: int, workers: int) -> None:
    registry = AssetRegistry.bundled()
    world = PriceWorld(prices=dict(VECTOR_PRICES))
    server = TestServer(price_app(world, registry), host="127.0.0.1")
    await server.start_server()
    root = str(server.make_url("")).rstrip("/")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_mapping({
            "DATABASE_PATH": f"{tmp}/bench.db", "COINGECKO_BASE_URL": f"{root}/coingecko", "BINANCE_BASE_URL": f"{root}/binance",
            "COINBASE_BASE_URL": f"{root}/coinbase", "PRICE_SOURCES": "coingecko", "HEAVY_WORKERS": str(workers),
            "PRICE_CACHE_SECONDS": "0"})
        async with build(settings, interval=3600) as app:
            recorder = Recorder()
            app.dispatcher.notifiers.append(recorder)
            app.dispatcher.start()
            app.assistant.heavy.warm()
            for n in range(accounts):
                await app.assistant.handle(actor(f"flood{n}"), "/add 10 ETH borrow 15000 USDC on aave-v3")
            for _ in range(3):
                await app.assistant.handle(actor("probe"), "/add 10 ETH borrow 15000 USDC on aave-v3")
            await app.assistant.handle(actor("probe"), "/add 1 BTC borrow 25000 USDC on aave-v3")
            await app.feed.tick()
            await app.monitor.tick()
            await app.assistant.handle(actor("flood1"), "/chart 1 whatif")  # the workers are up before timing starts
            quiet = await phase(app, world, recorder, seconds, 0)
            loud = await phase(app, world, recorder, seconds, accounts)
            await app.dispatcher.stop()
    await server.close()
    print(f"heavy_flood: {accounts} accounts, heavy workers {workers} ({'processes' if workers else 'a thread'}), "
          f"{seconds:g} s per phase; {loud['heavy']} heavy commands answered in the flood")
    for name, key in (("light command (/positions)", "light"), ("warning (tick to delivery)", "warn")):
        q50, f50 = statistics.median(quiet[key]), statistics.median(loud[key])
        q90, f90 = pct(quiet[key], 0.9), pct(loud[key], 0.9)
        print(f"  {name:28} quiet p50 {q50 * 1000:7.1f} ms p90 {q90 * 1000:7.1f} ms | flood p50 {f50 * 1000:7.1f} ms "
              f"p90 {f90 * 1000:7.1f} ms | ratio p50 {f50 / q50:.2f}x p90 {f90 / q90:.2f}x  (n={len(quiet[key])}/{len(loud[key])})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--accounts", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.accounts, args.workers))
