"""Failover harness: two real `collateral-bot run` replicas over one PostgreSQL while a crash unfolds.

The leader of the ticks is SIGKILLed at random moments and started again as a new standby. Afterwards
every outbox row (each warning the replicas committed) must have reached the Telegram emulator, a
repeat may only carry the same alert id, and no warning may have been decided twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import statistics
import sys
import time
from collections import Counter, defaultdict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg

from core.storage.replicas import NAMESPACE, role_key
from core.watch.notices import alert_id
from tests.e2e.test_ops import stock
from tests.emulators.telegram import TelegramEmulator
from tests.pg import free_port

BOT = str(Path(sys.executable).parent / "collateral-bot")
CONCURRENCY = 32  # webhook load: commands in flight at once
# ETH with 15,000 USDC borrowed against 10 ETH on Aave v3: OK, DANGER, LIQUIDATABLE, WARNING, OK. No step jumps
# more than the price guard believes at once (50 %).
CYCLE = (3000.0, 2000.0, 1700.0, 2400.0, 3000.0)
ALERT = re.compile(r"\[(A-[0-9A-Z]{4,})\]")


@dataclass
class Outcome:
    """What a failover run measured."""

    kills: int = 0
    takeovers: list[float] = field(default_factory=list)  # seconds from SIGKILL to another replica holding the ticks
    rows: int = 0  # warnings committed (outbox rows)
    delivered: int = 0  # messages the emulator accepted
    lost: list[str] = field(default_factory=list)  # alert ids committed and never delivered
    duplicates: int = 0  # repeats, all of them of the same alert id
    decided_twice: list[str] = field(default_factory=list)  # the same warning committed under two ids
    crashes_seen: dict[str, int] = field(default_factory=dict)  # chat -> how many crashes it was warned of

    def summary(self) -> str:
        """One paragraph of figures."""
        t = sorted(self.takeovers)
        times = (f"takeover median {statistics.median(t):.2f} s, worst {t[-1]:.2f} s over {len(t)} kills" if t
                 else "no takeover measured")
        return (f"{self.kills} SIGKILLs of the leader; {times}; {self.rows} warnings committed, {self.delivered} "
                f"messages delivered, {len(self.lost)} lost, {self.duplicates} duplicates (same alert id), "
                f"{len(self.decided_twice)} decided twice")


class Fleet:
    """The replica processes and what they are called."""

    def __init__(self, base_env: dict[str, str], cwd: Path):
        self.base_env, self.cwd = base_env, cwd
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self._n = 0

    async def spawn(self) -> str:
        """One more replica; returns its name."""
        self._n += 1
        name = f"r{self._n}"
        env = dict(self.base_env, REPLICA_NAME=name)
        log = open(self.cwd / f"{name}.log", "wb")  # noqa: SIM115 - the process writes to it until it ends
        self.procs[name] = await asyncio.create_subprocess_exec(BOT, "run", env=env, cwd=self.cwd, stdin=asyncio.subprocess.DEVNULL,
                                                                stdout=log, stderr=log)
        return name

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, no goodbye; the socket to PostgreSQL closes with the process."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def stop(self) -> None:
        """SIGTERM every replica and wait."""
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        self.procs.clear()


def holder(conn: psycopg.Connection, role: str) -> str | None:
    """The replica name whose lock connection holds the role now (from its application_name)."""
    row = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                       "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2",
                       [NAMESPACE, role_key(role)]).fetchone()
    return row[0].removeprefix("collateral-bot ") if row else None


async def wait_for_holder(conn: psycopg.Connection, role: str, other_than: str | None = None, timeout: float = 60) -> str:
    """Poll every 10 ms until someone (other than `other_than`) leads the role."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = holder(conn, role)
        if name is not None and name != other_than:
            return name
        await asyncio.sleep(0.01)
    raise AssertionError(f"nobody took over {role} within {timeout} s")


async def wait_for_standby(conn: psycopg.Connection, name: str, timeout: float = 60) -> None:
    """Until the replica's leadership connection is open (it competes for the roles)."""
    deadline = time.monotonic() + timeout
    while not conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s",
                           [f"collateral-bot {name}"]).fetchone():
        assert time.monotonic() < deadline, f"replica {name} never connected"
        await asyncio.sleep(0.05)


async def failover_run(url: str, emu, world, price_env: dict[str, str], workdir: Path, users: int = 10, kills: int = 3,
                       cycles: int = 1, hold: float = 4.0, seed: int = 1) -> Outcome:
    """Run the crash `cycles` times, holding each price `hold` s, with `kills` SIGKILLs of the ticks' leader spread over it."""
    stock(url, users)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, PRICE_INTERVAL_SECONDS="1",
               HEAVY_WORKERS="0", NO_PROXY="127.0.0.1,localhost", LOG_LEVEL="INFO", **price_env)
    world.prices["ETH"] = CYCLE[0]
    fleet = Fleet(env, workdir)
    outcome = Outcome()
    rng = random.Random(seed)
    steps = [price for _ in range(cycles) for price in CYCLE] + [CYCLE[0]]
    total = len(steps) * hold
    kill_at = sorted(rng.uniform(hold * 0.5, total - hold) for _ in range(kills))
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            for _ in range(2):
                await wait_for_standby(conn, await fleet.spawn())
            await wait_for_holder(conn, "ticks")
            began = time.monotonic()
            for i, price in enumerate(steps):
                world.prices["ETH"] = price
                step_end = began + (i + 1) * hold
                while time.monotonic() < step_end:
                    if kill_at and time.monotonic() - began >= kill_at[0]:
                        kill_at.pop(0)
                        leader = holder(conn, "ticks")
                        if leader in fleet.procs:
                            await fleet.kill(leader)
                            killed_at = time.monotonic()
                            await wait_for_holder(conn, "ticks", other_than=leader)
                            outcome.takeovers.append(time.monotonic() - killed_at)
                            outcome.kills += 1
                            standby = await fleet.spawn()  # a new standby, as an orchestrator would restart it
                            await wait_for_standby(conn, standby)  # the next kill finds two replicas competing
                            if kill_at:  # and lands at a random moment of the standby's cycle, not just after its first try
                                kill_at[0] = max(kill_at[0], time.monotonic() - began + rng.uniform(0.2, 1.5))
                    await asyncio.sleep(0.02)
            deadline = time.monotonic() + 60
            while conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0] and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await fleet.stop()
        rows = conn.execute("SELECT id, chat_key, payload, status FROM outbox ORDER BY id").fetchall()
    delivered = Counter(m.group(1) for m in (ALERT.search(s.get("text", "")) for s in emu.sent) if m)
    outcome.rows, outcome.delivered = len(rows), sum(delivered.values())
    outcome.lost = [alert_id(r[0]) for r in rows if alert_id(r[0]) not in delivered]
    outcome.duplicates = sum(c - 1 for c in delivered.values())
    last: dict[str, tuple] = {}
    crashes: dict[str, int] = defaultdict(int)
    for row_id, chat, payload, _ in rows:
        items = tuple(sorted((i["kind"], i["level"]) for i in json.loads(payload)["items"]))
        if any(kind == "worse" for kind, _ in items) and last.get(chat) == items:
            outcome.decided_twice.append(alert_id(row_id))  # the same step again with nothing between: a second decision
        if any(kind == "worse" and level >= 2 for kind, level in items) and not any(
                kind == "worse" and level >= 2 for kind, level in last.get(chat, ())):
            crashes[chat] += 1
        last[chat] = items
    outcome.crashes_seen = dict(crashes)
    return outcome


# ---------------------------------------------------------------- commands through webhook mode

SECRET = "replica-secret"
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


@dataclass
class Load:
    """Commands answered by a set of webhook replicas."""

    replicas: int
    commands: int
    seconds: float
    latencies: list[float]  # sorted

    def summary(self) -> str:
        """Throughput and p50/p99."""
        p99 = self.latencies[min(len(self.latencies) - 1, int(0.99 * len(self.latencies)))]
        return (f"{self.replicas} replica{'s' if self.replicas > 1 else ''}: {self.commands / self.seconds:,.0f} commands/s, "
                f"p50 {statistics.median(self.latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms ({self.commands} commands, "
                f"{CONCURRENCY} in flight)")


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


@asynccontextmanager
async def webhook_replicas(url: str, emu, price_env: dict, replicas: int, workdir: Path, interval: str = "60"):
    """`replicas` real `collateral-bot run` processes in webhook mode over one database; yields their webhook ports."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    ports = [free_port() for _ in range(replicas)]
    env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, PRICE_INTERVAL_SECONDS=interval,
               HEAVY_WORKERS="0", NO_PROXY="127.0.0.1,localhost", TELEGRAM_WEBHOOK_SECRET=SECRET,
               TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{ports[0]}/telegram", USER_COMMANDS_PER_MINUTE="0", **price_env)
    procs = []
    try:
        for n, port in enumerate(ports):
            log = open(workdir / f"r{replicas}-{n}.log", "wb")  # noqa: SIM115 - held by the process
            procs.append(await asyncio.create_subprocess_exec(
                BOT, "run", env=dict(env, REPLICA_NAME=f"r{n}", TELEGRAM_WEBHOOK_PORT=str(port)), cwd=workdir,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log))
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(replicas):
                await wait_for_standby(conn, f"r{n}")
        for port in ports:
            await ready(port)
        yield ports
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await p.wait()


async def post_update(emu, port: int, chat: dict, user: dict, text: str) -> None:
    """What Telegram would POST to the replica behind the load balancer at `port`."""
    update_id = emu.send_text(chat, user, text)
    update = next(u for u in reversed(emu._updates) if u["update_id"] == update_id)
    emu._updates.remove(update)
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
        assert r.status == 200, r.status


async def webhook_load(replicas: int, server, emu, price_env: dict, users: int, commands: int, workdir: Path,
                       warm_up: int = 200) -> Load:
    """`replicas` webhook-mode replicas on a fresh database of `server`, loaded with `commands` /health commands."""
    url = server.new_database()
    stock(url, users)
    try:
        async with webhook_replicas(url, emu, price_env, replicas, workdir) as ports:
            if warm_up:
                await load(emu, ports, users, warm_up)  # connections, caches, first prices
            seconds, latencies = await load(emu, ports, users, commands)
    finally:
        server.drop(url)
    return Load(replicas, commands, seconds, sorted(latencies))


@asynccontextmanager
async def price_emulators():
    """The price and mining emulators on loopback, for a bench outside pytest; yields (world, settings for the bot)."""
    from aiohttp.test_utils import TestServer

    from core.lending.assets import AssetRegistry
    from tests.emulators.mempool import MempoolState, mempool_app
    from tests.emulators.prices import VECTOR_PRICES, PriceWorld, price_app

    world = PriceWorld(prices=dict(VECTOR_PRICES))
    app = price_app(world, AssetRegistry.bundled())
    app.add_subapp("/mempool", mempool_app(MempoolState()))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    root = str(server.make_url("")).rstrip("/")
    try:
        yield world, {"COINGECKO_BASE_URL": f"{root}/coingecko", "MEMPOOL_BASE_URL": f"{root}/mempool",
                      "BLOCKCHAIN_INFO_BASE_URL": f"{root}/mempool", "DEFILLAMA_BASE_URL": "http://127.0.0.1:9"}
    finally:
        await server.close()
