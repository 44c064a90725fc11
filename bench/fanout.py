"""Benchmark: a crash fan-out. N destinations cross into danger in one tick and are delivered to a
loopback receiver that enforces Telegram's limits (30 messages/s overall, 1/s per chat, 20/min per
group) by answering 429 with retry_after.

Prints: how long the tick took to queue every message, the delivery rate against the allowed 30/s,
how many 429s were provoked, and how well delivery followed urgency (lowest health factor first).
At 30 messages a second, 10,000 messages take about 5.5 minutes.

    .venv/bin/python bench/fanout.py [--destinations 10000] [--groups 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict, deque
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from core.lending.assets import AssetRegistry  # noqa: E402
from core.lending.models import ChatRef, Leg, Overrides, Owner  # noqa: E402
from core.lending.protocols import Presets  # noqa: E402
from core.market.prices.feed import PriceFeed  # noqa: E402
from core.market.prices.guard import AssetState, Trust  # noqa: E402
from core.storage.store import Store  # noqa: E402
from core.watch.delivery import Dispatcher, RetryLater  # noqa: E402
from core.watch.monitor import Monitor  # noqa: E402
from core.watch.notices import Notice  # noqa: E402
from core.watch.outbox import Outbox  # noqa: E402
from tests.fakes import FakeClock  # noqa: E402


class TelegramLimits:
    """The receiver: Telegram's published limits, enforced with 429 + retry_after."""

    def __init__(self):
        self.windows: dict[tuple, deque] = defaultdict(deque)
        self.accepted: list[tuple[float, float]] = []  # (time, urgency)
        self.refused = 0

    def _over(self, key, limit, period, now) -> float:
        q = self.windows[key]
        while q and now - q[0] >= period:
            q.popleft()
        return (q[0] + period - now) if len(q) >= limit else 0.0

    def app(self) -> web.Application:
        async def send(request: web.Request) -> web.Response:
            body = await request.json()
            now = time.monotonic()
            chat, group = body["chat_id"], body["chat_id"].startswith("-")
            rules = [(("all",), 30, 1.0), (("chat", chat), 1, 1.0)] + ([(("group", chat), 20, 60.0)] if group else [])
            wait = max(self._over(k, lim, per, now) for k, lim, per in rules)
            if wait > 0:
                self.refused += 1
                payload = {"ok": False, "error_code": 429, "description": "Too Many Requests",
                           "parameters": {"retry_after": max(1, round(wait + 0.5))}}
                return web.json_response(payload, status=429)
            for k, _, _ in rules:
                self.windows[k].append(now)
            self.accepted.append((now, body["urgency"]))
            return web.json_response({"ok": True, "result": {"message_id": len(self.accepted)}})

        async def stats(request: web.Request) -> web.Response:
            return web.json_response({"accepted": self.accepted, "refused": self.refused})

        app = web.Application()
        app.router.add_post("/sendMessage", send)
        app.router.add_get("/stats", stats)
        return app


def serve(port: int) -> None:
    """Child process: the receiver, so its clock and event loop are not the bot's."""
    web.run_app(TelegramLimits().app(), host="127.0.0.1", port=port, print=None)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackTelegram:
    """A notifier speaking a Telegram-like sendMessage to the receiver."""

    platform = "telegram"

    def __init__(self, session: aiohttp.ClientSession, url: str):
        self.session, self.url = session, url

    def accepts(self, chat: ChatRef) -> bool:
        return True

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        body = {"chat_id": chat.chat_id, "text": notice.items[0].text, "urgency": notice.urgency}
        async with self.session.post(self.url, data=json.dumps(body), headers={"Content-Type": "application/json"}) as r:
            if r.status == 429:
                raise RetryLater((await r.json())["parameters"]["retry_after"])
            r.raise_for_status()


async def main(n: int, groups: int, queue_only: bool = False) -> None:
    import subprocess

    registry, presets = AssetRegistry.bundled(), Presets.bundled()
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    root = f"http://127.0.0.1:{port}"
    try:
        await _run(n, groups, registry, presets, root, queue_only)
    finally:
        child.terminate()
        child.wait()


async def _run(n: int, groups: int, registry, presets, root: str, queue_only: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "fanout.db")
        clock = FakeClock()
        feed = PriceFeed([], registry, clock)
        for i in range(n):  # one position per destination; debts spread so health factors differ
            owner = Owner("telegram", "group", f"-{i}") if i < groups else Owner("telegram", "user", str(i))
            store.add_position(owner, "aave-v3", "core", (Leg("ETH", Decimal(10)),),
                               (Leg("USDC", Decimal(15000 + (i * 7919) % 5000)),), Overrides(), None)
        outbox = Outbox(store)
        monitor = Monitor(store, feed, registry, presets, clock, outbox)
        monitor.load()

        def prices(eth: float) -> None:
            for s, p in (("ETH", eth), ("USDC", 1.0)):
                feed.guard.states[s] = AssetState(s, Trust.TRUSTED, p, clock.now, clock.now, "", ("bench",))

        prices(3000.0)
        await monitor.tick()  # the first look
        clock.advance(60)
        prices(2150.0)  # a crash: every position below 1.2
        started = time.perf_counter()
        queued = await monitor.tick()
        queue_s = time.perf_counter() - started
        if queue_only:
            t = monitor.last_tick
            print(f"{queued:,} messages queued by the tick in {queue_s * 1000:,.0f} ms (evaluate {t['evaluate_ms']:.0f} ms, "
                  f"wording {t['words_ms']:.0f} ms, store {t['total_ms'] - t['words_ms'] - t['evaluate_ms']:.0f} ms)")
            store.close()
            return
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # the receiver is starting
                try:
                    async with session.get(f"{root}/stats"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            dispatcher = Dispatcher(outbox, [LoopbackTelegram(session, f"{root}/sendMessage")])
            t0 = time.monotonic()
            print(f"{queued:,} messages queued by the tick in {queue_s * 1000:,.0f} ms; delivering at up to 30/s "
                  f"(about {queued / 30:,.0f} s)...", flush=True)
            await dispatcher.deliver(patience=120.0)
            elapsed = time.monotonic() - t0
            async with session.get(f"{root}/stats") as r:
                stats = await r.json()
        store.close()
    times = [t for t, _ in stats["accepted"]]
    urgencies = [u for _, u in stats["accepted"]]
    inversions = sum(1 for a, b in zip(urgencies, urgencies[1:], strict=False) if b < a - 1e-9)
    # Messages are let out in one-second windows: the last window counts as time used too.
    span = times[-1] - times[0] + 1.0 if times else 1.0
    rate = len(times) / span
    print(f"delivered {len(times):,} of {queued:,} in {elapsed:,.1f} s: {rate:.1f} messages/s "
          f"= {rate / 30:.1%} of Telegram's 30/s")
    print(f"429s provoked: {stats['refused']}; urgency order: {inversions} inversions in {len(urgencies):,} messages "
          f"(first health factor {urgencies[0]:.3f}, last {urgencies[-1]:.3f})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--destinations", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=20, help="how many of them are group chats (20/min each)")
    parser.add_argument("--queue-only", action="store_true", help="measure the tick that queues them, skip the delivery")
    args = parser.parse_args()
    asyncio.run(main(args.destinations, args.groups, args.queue_only))
