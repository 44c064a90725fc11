"""Benchmark: command round trips through the real python-telegram-bot and the Bot API emulator.

50 chats each send a command, wait for the reply, and send the next (a closed loop), first to a
bare PTB echo bot, then to collateral-bot with 100,000 positions in its store. The emulator runs
in a child process and measures each round trip from the moment the update is queued to the
moment the reply's sendMessage arrives. Prints p50, p99 and commands per second for both.

    .venv/bin/python bench/telegram_roundtrip.py [--seconds 10] [--chats 50] [--positions 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

warnings.filterwarnings("ignore")


# ---------------------------------------------------------------- the child: emulator + load


def serve() -> None:
    """Child process: the Telegram emulator, and a control server that drives closed-loop load."""
    from tests.emulators.telegram import TelegramEmulator

    class Timed(TelegramEmulator):
        """Notes when each chat's reply arrives."""

        def __init__(self):
            super().__init__()
            self.replied: dict[int, asyncio.Future] = {}

        def _record(self, chat, params, **content):
            record = super()._record(chat, params, **content)
            waiter = self.replied.pop(chat["id"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
            return record

    async def main() -> None:
        emu = Timed()
        root = await emu.start()

        async def run(request: web.Request) -> web.Response:
            spec = await request.json()
            seconds, commands, chats = spec["seconds"], spec["commands"], spec["chats"]
            latencies: list[float] = []
            deadline = time.perf_counter() + seconds
            rng = random.Random(1)

            async def chat_loop(n: int) -> None:
                user = emu.user(n, f"user{n}")
                chat = emu.private_chat(user)
                while time.perf_counter() < deadline:
                    waiter = asyncio.get_running_loop().create_future()
                    emu.replied[chat["id"]] = waiter
                    started = time.perf_counter()
                    emu.send_text(chat, user, rng.choice(commands))
                    try:
                        done = await asyncio.wait_for(waiter, 10)
                    except TimeoutError:
                        continue
                    latencies.append(done - started)

            began = time.perf_counter()
            await asyncio.gather(*(chat_loop(n) for n in range(1, chats + 1)))
            elapsed = time.perf_counter() - began
            latencies.sort()
            return web.json_response({
                "count": len(latencies), "rate": len(latencies) / elapsed,
                "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
            })

        control = web.Application()
        control.router.add_post("/run", run)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(json.dumps({"root": root, "control": f"http://127.0.0.1:{runner.addresses[0][1]}"}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- the parent: the bots


async def drive(control: str, seconds: float, chats: int, commands: list[str]) -> dict:
    async with aiohttp.ClientSession() as session, session.post(
            f"{control}/run", json={"seconds": seconds, "chats": chats, "commands": commands},
            timeout=aiohttp.ClientTimeout(total=seconds + 60)) as r:
        return await r.json()


async def echo_bot(root: str, token: str, control: str, seconds: float, chats: int) -> dict:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await context.bot.send_message(update.effective_chat.id, "echo")

    app = (ApplicationBuilder().token(token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
           .concurrent_updates(64).build())
    app.add_handler(MessageHandler(filters.COMMAND, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        result = await drive(control, seconds, chats, ["/echo"])
        await app.updater.stop()
        await app.stop()
    return result


async def collateral_bot(root: str, token: str, control: str, seconds: float, chats: int, positions: int) -> dict:
    from bench.evaluate import registry as bench_registry  # noqa: F401 - the same synthetic world
    from bench.evaluate import store_positions
    from bot.app import build
    from bot.telegram_adapter import TelegramAdapter
    from core.config import Settings
    from core.lending.models import Leg, Overrides, Owner
    from core.storage.store import Store
    from tests.fakes import VECTOR_PRICES, FakePriceSource

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store_positions(path, positions, {f"X{i}": 10.0 for i in range(30)})
        store = Store(path)
        for n in range(1, chats + 1):
            owner = Owner("telegram", "user", str(n))
            store.add_position(owner, "aave-v3", "core", (Leg("ETH", Decimal(10)),), (Leg("USDC", Decimal(15000)),), Overrides(), None)
            store.add_position(owner, "maker", "ETH-A", (Leg("ETH", Decimal(5)),), (Leg("DAI", Decimal(3000)),), Overrides(), None)
        store.close()
        settings = Settings.from_mapping({"DATABASE_PATH": str(path)})
        source = FakePriceSource({**VECTOR_PRICES, **{f"X{i}": 10.0 for i in range(30)}, "SOL": 150.0, "BNB": 600.0,
                                  "LINK": 15.0, "wstETH": 3500.0})
        # build() leaves the command rate limit off (run_chat_adapters sets it): each chat here sends as fast as
        # it is answered, several a second, which the default 30 a minute would refuse. Measured: the command path.
        async with build(settings, sources=[source]) as app:
            await app.feed.tick()
            adapter = TelegramAdapter.build(token, root, app.assistant, app.outbox)
            await adapter.start()
            try:
                return await drive(control, seconds, chats, ["/health 1", "/health 2", "/positions", "/price ETH", "/capacity 1"])
            finally:
                await adapter.stop()


async def main(seconds: float, chats: int, positions: int) -> None:
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(child.stdout.readline())
        token = "123456:TEST-TOKEN"
        echo = await echo_bot(info["root"], token, info["control"], seconds, chats)
        ours = await collateral_bot(info["root"], token, info["control"], seconds, chats, positions)
    finally:
        child.terminate()
        child.wait()
    print(f"round trips through PTB 22 and the Bot API emulator, {chats} chats in a closed loop, {seconds:g} s each")
    for name, r in (("bare echo bot", echo), (f"collateral-bot, {positions:,} positions", ours)):
        print(f"  {name:<36} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  {r['rate']:6.0f} commands/s  ({r['count']:,} round trips)")
    print(f"  p50 ratio: {ours['p50_ms'] / echo['p50_ms']:.2f}x the echo bot")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--seconds", type=float, default=10)
        parser.add_argument("--chats", type=int, default=50)
        parser.add_argument("--positions", type=int, default=100_000)
        args = parser.parse_args()
        asyncio.run(main(args.seconds, args.chats, args.positions))
