"""Benchmark: commands in Telegram webhook mode spread over one replica, then two, over one PostgreSQL.

Each user sends /health 1 (a read of their position and a priced answer); a load balancer's part is
played here: the updates are POSTed round-robin to the replicas' webhook ports, 32 at a time. A
command's latency runs from its POST to the Telegram emulator receiving the answer. Prints throughput
and p50/p99 for each setup, in one run.

    .venv/bin/python bench/replica_commands.py [--commands 1500] [--users 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from core.lending.assets import AssetRegistry  # noqa: E402
from tests.e2e.replicas import BOT, stock, wait_for_standby  # noqa: E402
from tests.emulators.mempool import MempoolState, mempool_app  # noqa: E402
from tests.emulators.prices import VECTOR_PRICES, PriceWorld, price_app  # noqa: E402
from tests.emulators.telegram import TelegramEmulator  # noqa: E402
from tests.pg import PostgresServer, free_port  # noqa: E402

SECRET = "bench-secret"
CONCURRENCY = 32


async def ready(port: int, timeout: float = 60) -> None:
    """Until the replica's webhook answers (403 without the secret: it is up)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(f"http://127.0.0.1:{port}/telegram", json={}) as r:
                    if r.status == 403:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"replica on {port} never answered")


class Replies:
    """Answers as the emulator records them, handed to whoever waits for that chat (in order), read once each."""

    def __init__(self, emu: TelegramEmulator):
        self.emu, self.seen = emu, len(emu.sent)
        self.waiting: dict[int, deque[asyncio.Future]] = defaultdict(deque)

    def expect(self, chat_id: int) -> asyncio.Future:
        """A future resolved by the next message to `chat_id`."""
        future = asyncio.get_running_loop().create_future()
        self.waiting[chat_id].append(future)
        return future

    async def run(self) -> None:
        """Follow emu.sent from where it was (the emulator's own wait_for rescans it all for every waiter)."""
        while True:
            new, self.seen = self.emu.sent[self.seen:], len(self.emu.sent)
            for message in new:
                queue = self.waiting.get(message["chat"]["id"])
                if queue:
                    queue.popleft().set_result(time.perf_counter())
            await asyncio.sleep(0.001)


async def load(emu: TelegramEmulator, ports: list[int], users: int, commands: int) -> tuple[float, list[float]]:
    """Send `commands` /health commands round-robin; returns (seconds, latencies)."""
    latencies: list[float] = []
    counter = iter(range(commands))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    replies = Replies(emu)
    follower = asyncio.create_task(replies.run())

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in counter:
            uid = i % users + 1
            user = emu.user(uid, f"user{uid}")
            update_id = emu.send_text(emu.private_chat(user), user, "/health 1")
            update = next(u for u in reversed(emu._updates) if u["update_id"] == update_id)
            emu._updates.remove(update)  # this load balancer delivers it, not getUpdates
            answered = replies.expect(uid)
            began = time.perf_counter()
            async with session.post(f"http://127.0.0.1:{ports[i % len(ports)]}/telegram", json=update, headers=headers) as r:
                assert r.status == 200, r.status
            latencies.append(await asyncio.wait_for(answered, 60) - began)

    began = time.perf_counter()
    try:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    finally:
        follower.cancel()
    return time.perf_counter() - began, latencies


async def setup(replicas: int, server: PostgresServer, emu: TelegramEmulator, price_env: dict, users: int, commands: int,
                workdir: Path) -> str:
    url = server.new_database()
    stock(url, users)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    ports = [free_port() for _ in range(replicas)]
    env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, PRICE_INTERVAL_SECONDS="60",
               HEAVY_WORKERS="0", NO_PROXY="127.0.0.1,localhost", TELEGRAM_WEBHOOK_SECRET=SECRET,
               TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{ports[0]}/telegram", USER_COMMANDS_PER_MINUTE="0", **price_env)
    procs = []
    try:
        for n, port in enumerate(ports):
            log = open(workdir / f"r{replicas}-{n}.log", "wb")  # noqa: SIM115 - held by the process
            procs.append(await asyncio.create_subprocess_exec(
                BOT, "run", env=dict(env, REPLICA_NAME=f"r{n}", TELEGRAM_WEBHOOK_PORT=str(port)), cwd=workdir,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log))
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(replicas):
                await wait_for_standby(conn, f"r{n}")
        for port in ports:
            await ready(port)
        await load(emu, ports, users, min(200, commands))  # warm-up: connections, caches, first prices
        seconds, latencies = await load(emu, ports, users, commands)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await p.wait()
        server.drop(url)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return (f"{replicas} replica{'s' if replicas > 1 else ''}: {commands / seconds:,.0f} commands/s, "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms ({commands} commands, "
            f"{CONCURRENCY} in flight)")


async def main(commands: int, users: int) -> None:
    server = PostgresServer(durable=True)
    server.start()
    world = PriceWorld(prices=dict(VECTOR_PRICES))
    app = price_app(world, AssetRegistry.bundled())
    app.add_subapp("/mempool", mempool_app(MempoolState()))
    prices = TestServer(app, host="127.0.0.1")
    await prices.start_server()
    root = str(prices.make_url("")).rstrip("/")
    price_env = {"COINGECKO_BASE_URL": f"{root}/coingecko", "MEMPOOL_BASE_URL": f"{root}/mempool",
                 "BLOCKCHAIN_INFO_BASE_URL": f"{root}/mempool", "DEFILLAMA_BASE_URL": "http://127.0.0.1:9"}
    emu = TelegramEmulator()
    await emu.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for replicas in (1, 2):
                print(await setup(replicas, server, emu, price_env, users, commands, Path(tmp)))
                sys.stdout.flush()
    finally:
        await emu.close()
        await prices.close()
        server.stop()
    print(f"(machine: {os.cpu_count()} cores shared by the replicas, PostgreSQL and this load generator with the emulator)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1500)
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.users))
