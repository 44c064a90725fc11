"""The Bitcoin network's figures a miner needs, from mempool.space (self-hostable; MEMPOOL_BASE_URL) with
blockchain.info as a second source, checked, and cached in SQLite so /mining answers from the last good read."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict

from core.market.mining import Network
from core.market.prices.base import SourceError
from core.market.prices.http import HttpSource
from core.ports import Clock, Database

log = logging.getLogger(__name__)

MAX_AGE = 1_800.0  # a cached read older than this is refreshed when someone asks
MIN_DIFFICULTY, MAX_DIFFICULTY = 1e12, 1e17  # 2019's was about 1e13, late 2025's 1.5e14
MIN_HEIGHT, MAX_HEIGHT = 800_000, 5_000_000


def _number(value: object, what: str, source: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite number within [low, high], or SourceError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise SourceError(source, "bad-value", f"{what} is not a plausible number")
    return float(value)


class MempoolSource(HttpSource):
    """mempool.space's REST API: difficulty adjustment, hashrate and difficulty, reward stats, the tip."""

    name = "mempool.space"
    default_url = "https://mempool.space"

    async def network(self, now: float) -> Network:
        adj = await self.get("/api/v1/difficulty-adjustment")
        rate = await self.get("/api/v1/mining/hashrate/3d")
        rewards = await self.get("/api/v1/mining/reward-stats/144")
        tip = await self.get("/api/blocks/tip/height")
        if not all(isinstance(x, dict) for x in (adj, rate, rewards)):
            raise SourceError(self.name, "bad-body", "an answer is not an object")
        assert isinstance(adj, dict) and isinstance(rate, dict) and isinstance(rewards, dict)
        difficulty = _number(rate.get("currentDifficulty"), "the difficulty", self.name, MIN_DIFFICULTY, MAX_DIFFICULTY)
        points = rate.get("hashrates") or []
        latest = points[-1].get("timestamp") if isinstance(points, list) and points and isinstance(points[-1], dict) else None
        if latest is not None and _number(latest, "a hashrate time", self.name) > now + 3_600:
            raise SourceError(self.name, "bad-value", "the hashrate is dated in the future")
        height = int(_number(tip, "the tip height", self.name, MIN_HEIGHT, MAX_HEIGHT))
        blocks = _number(rewards.get("endBlock"), "endBlock", self.name) - _number(rewards.get("startBlock"), "startBlock",
                                                                                   self.name) + 1
        fees = _number(rewards.get("totalFee"), "the fees", self.name, 0) / 1e8 / max(1.0, blocks)
        change = _number(adj.get("difficultyChange"), "the difficulty change", self.name, -50, 50) / 100
        at = _number(adj.get("estimatedRetargetDate"), "the retarget date", self.name) / 1000
        if not now - 3_600 <= at <= now + 30 * 86_400:
            raise SourceError(self.name, "bad-value", "the next retarget is not within the coming month")
        block_seconds = _number(adj.get("timeAvg", 600_000), "the block time", self.name, 60_000, 3_600_000) / 1000
        return Network(difficulty, height, _number(fees, "the fees per block", self.name, 0, 50), change, at, block_seconds)


class BlockchainInfoSource(HttpSource):
    """blockchain.info's plain queries, for the difficulty and the tip when mempool.space does not answer."""

    name = "blockchain.info"
    default_url = "https://blockchain.info"

    async def network(self, now: float, last: Network | None) -> Network:
        difficulty = _number(await self.get("/q/getdifficulty"), "the difficulty", self.name, MIN_DIFFICULTY, MAX_DIFFICULTY)
        height = int(_number(await self.get("/q/getblockcount"), "the tip height", self.name, MIN_HEIGHT, MAX_HEIGHT))
        # it says nothing of fees or the next retarget: the last good read's, else none (fees then count as 0)
        retarget = last.retarget_at if last and last.retarget_at > now else now + 7 * 86_400
        return Network(difficulty, height, last.fees_per_block if last else 0.0, last.retarget_change if last else 0.0,
                       retarget, last.block_seconds if last else 600.0)


class MiningData:
    """The last good read of the network, refreshed on the schedule and when someone asks and it is old."""

    def __init__(self, db: Database, sources: list, clock: Clock, max_age: float = MAX_AGE):
        self.db, self.sources, self.clock, self.max_age = db, sources, clock, max_age
        self.error = ""  # why the last refresh failed, for /status and the answer

    def latest(self) -> tuple[Network, float, str] | None:
        """(network, when it was read, by which source) of the last good read, if any."""
        row = self.db.execute("SELECT data, fetched_at, source FROM mining_network WHERE id = 1").fetchone()
        if row is None:
            return None
        return Network(**json.loads(row[0])), float(row[1]), str(row[2])

    def describe(self, now: float) -> str:
        """One line for /status: the last good read's source, tip and age, and the last failure; "" before any."""
        last = self.latest()
        if last is None:
            return f"not read yet ({self.error})" if self.error else ""
        net, at, source = last
        minutes = max(0, round((now - at) / 60))
        text = f"{source}, block {net.height:,}, difficulty {net.difficulty:.3g}, read {minutes} min ago"
        return text + (f"; last refresh failed: {self.error}" if self.error else "")

    async def refresh(self) -> bool:
        """Ask the sources in order; store the first good answer. False when none answered."""
        now = self.clock.time()
        last = self.latest()
        errors = []
        for source in self.sources:
            try:
                net = (await source.network(now, last[0] if last else None) if isinstance(source, BlockchainInfoSource)
                       else await source.network(now))
            except SourceError as err:
                errors.append(f"{err.source}: {err.kind}")
                continue
            if last and net.height < last[0].height - 6:  # a source behind the one we had: not newer news
                errors.append(f"{source.name}: tip {net.height:,} behind {last[0].height:,}")
                continue
            self.db.execute("INSERT INTO mining_network (id, data, fetched_at, source) VALUES (1, ?, ?, ?) "
                            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at, "
                            "source = excluded.source", [json.dumps(asdict(net)), now, source.name])
            self.error = ""
            return True
        self.error = "; ".join(errors) or "no source configured"
        log.warning("mining data not refreshed: %s", self.error)
        return False

    async def current(self) -> tuple[Network, float, str] | None:
        """The last good read, refreshed first when it is older than max_age."""
        last = self.latest()
        if last is None or self.clock.time() - last[1] > self.max_age:
            await self.refresh()
            last = self.latest()
        return last
