"""Crash harness: the real bot replaying a crash, SIGKILLed at random moments and restarted.

What a loopback webhook received is compared with an uninterrupted reference run of the same
replay: every warning must arrive, and a kill may cause at most one duplicate.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT = str(Path(sys.executable).parent / "collateral-bot")
POSITIONS = "\n".join([
    "/add 10 ETH borrow 1200 USDC on aave-v3 as big",
    "/add 5 ETH borrow 300 DAI on maker",
    "/add 1 BTC borrow 3500 USDC on aave-v3",
    "/add 0.5 BTC borrow 2000 USD on ledn",
    "/add 300 LINK borrow 400 USDC on custom ltv 50% lt 70%",
    "",
])
REPLAY = ["console", "--user", "alice", "--replay", "2020-03-12", "--until", "2020-03-13", "--speed", "90000", "--resume"]


@dataclass
class Receiver:
    """A loopback webhook that records every POST."""

    received: list[dict] = field(default_factory=list)

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            self.received.append(json.loads(await request.text()))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        return app


def env(workdir: Path, hook: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    out.update(DATABASE_PATH=str(workdir / "bot.db"), ALERT_WEBHOOK_URL=hook, NO_PROXY="127.0.0.1,localhost",
               COINGECKO_BASE_URL="http://127.0.0.1:9")
    return out


async def _run(args, environment, cwd, stdin: bytes = b"", kill_after: float | None = None) -> bool:
    """Run the bot; SIGKILL it after `kill_after` seconds. Returns True when it was killed."""
    proc = await asyncio.create_subprocess_exec(BOT, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL, env=environment, cwd=cwd)
    proc.stdin.write(stdin)
    await proc.stdin.drain()
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), timeout=kill_after if kill_after is not None else 300)
        return False
    except TimeoutError:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return True


async def prepare(workdir: Path) -> Path:
    """A database holding the positions (no prices needed to register them)."""
    workdir.mkdir(parents=True, exist_ok=True)
    await _run(["console", "--user", "alice"], env(workdir, "http://127.0.0.1:9/hook"), workdir, POSITIONS.encode())
    return workdir / "bot.db"


async def replay(workdir: Path, kills: int, seed: int, receiver: Receiver, url: str) -> int:
    """Replay with `kills` random SIGKILLs, then to the end; returns the kills that hit a running bot."""
    rng = random.Random(seed)
    landed = 0
    for _ in range(kills):
        landed += await _run(REPLAY, env(workdir, url), workdir, kill_after=rng.uniform(0.2, 1.2))
    while await _run(REPLAY, env(workdir, url), workdir, kill_after=120):  # to the end, unkilled
        pass
    return landed


@dataclass
class Outcome:
    kills: int
    expected: int
    received: int
    lost: list[str]
    unexpected: list[str]
    changed: list[str]
    duplicates: int


async def crash_run(base: Path, kills: int, seed: int = 1) -> Outcome:
    """A reference run and a killed run from the same database; what the second lost or repeated."""
    main = await prepare(base / "setup")
    reference, crashed = Receiver(), Receiver()
    servers = [TestServer(reference.app(), host="127.0.0.1"), TestServer(crashed.app(), host="127.0.0.1")]
    for s in servers:
        await s.start_server()
    try:
        for name, receiver, server, n in (("reference", reference, servers[0], 0), ("crashed", crashed, servers[1], kills)):
            workdir = base / name
            workdir.mkdir(parents=True, exist_ok=True)
            shutil.copy(main, workdir / "bot.db")
            landed = await replay(workdir, n, seed, receiver, str(server.make_url("/hook")))
            if name == "crashed":
                kills = landed
    finally:
        for s in servers:
            await s.close()
    want = {m["alert_id"]: m["text"] for m in reference.received}
    got = Counter(m["alert_id"] for m in crashed.received)
    texts = {m["alert_id"]: m["text"] for m in crashed.received}
    return Outcome(
        kills=kills,
        expected=len(want),
        received=len(crashed.received),
        lost=sorted(set(want) - set(got)),
        unexpected=sorted(set(got) - set(want)),
        changed=sorted(a for a in want if a in texts and texts[a] != want[a]),
        duplicates=sum(c - 1 for c in got.values()),
    )
