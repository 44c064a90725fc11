"""Heavy work (charts, backtests) in a bounded pool of workers with a fair queue across users.

A chart or a backtest costs tens to hundreds of milliseconds of CPU. Run on the event loop, or in
threads that contend for the interpreter lock, a flood of them delays the warning tick, delivery
and everyone's light commands. Here they run in worker processes (threads only where no pool is
configured, as in tests of the commands), at most `workers` at a time, taken round-robin by user,
so a user with ten queued charts waits behind their own, not in front of everybody else's.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial

from core.errors import LimitReached
from core.lending.assets import AssetRegistry
from core.market.prices.replay import load_candles
from core.watch import backtest as bt

log = logging.getLogger(__name__)

PER_USER = 2  # queued or running heavy requests one user may have at once
MAX_QUEUED = 200  # past this many waiting in all, new ones are refused rather than queued for minutes


@lru_cache(maxsize=1)
def _bundle() -> tuple[dict, AssetRegistry]:
    """The bundled history and assets, read once per worker."""
    return load_candles(), AssetRegistry.bundled()


def bundled_backtest(window: str, collateral: list, debt: list, warn: float, danger: float) -> list:
    """A backtest on the bundled history, run in a worker ("all": every bundled window)."""
    candles, registry = _bundle()
    if window == "all":
        return bt.backtest_all(collateral, debt, warn, danger, candles, registry)
    return [bt.backtest(collateral, debt, warn, danger, window, candles, registry)]


@dataclass
class _Job:
    fn: Callable
    args: tuple
    done: asyncio.Future


class HeavyWork:
    """Runs CPU-heavy functions off the event loop, `workers` at a time, fairly across users."""

    def __init__(self, workers: int = 0, per_user: int = PER_USER, max_queued: int = MAX_QUEUED):
        self.workers = max(1, workers)
        self.processes = workers > 0  # 0: one thread (commands' tests); the composition root asks for processes
        self.per_user, self.max_queued = per_user, max_queued
        self._executor: Executor | None = None
        self._queues: dict[str, deque[_Job]] = {}
        self._turns: deque[str] = deque()  # users with waiting jobs, in round-robin order
        self._running = 0
        self._pending: dict[str, int] = {}  # per user: waiting or running
        self.completed = 0

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.processes:  # spawn, not fork: the parent has threads (sqlite, aiohttp) a fork would copy mid-lock
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            else:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="heavy")
        return self._executor

    def warm(self) -> None:
        """Start the workers now (a first chart then does not wait for a process to import matplotlib)."""
        if self.processes:
            self._pool().submit(_bundle)

    @property
    def waiting(self) -> int:
        """Jobs queued, not yet running."""
        return sum(len(q) for q in self._queues.values())

    async def run(self, who: str, fn: Callable, *args, on_queued: Callable[[int], Awaitable[None]] | None = None):
        """fn(*args) in a worker, in `who`'s turn; `on_queued(ahead)` is awaited first when it has to wait."""
        if self._pending.get(who, 0) >= self.per_user:
            raise LimitReached(f"You already have {self.per_user} charts or backtests on the way; "
                               "send this again once they have arrived.")
        if self.waiting >= self.max_queued:
            raise LimitReached("I am busy drawing charts and backtests for many people; please try again in a minute.")
        job = _Job(fn, args, asyncio.get_running_loop().create_future())
        self._pending[who] = self._pending.get(who, 0) + 1
        self._queues.setdefault(who, deque()).append(job)
        if who not in self._turns:
            self._turns.append(who)
        ahead = self.waiting - 1 + self._running if self._running >= self.workers else 0  # queued or running before it
        self._start_next()
        try:
            if not job.done.done() and ahead > 0 and on_queued is not None:
                await on_queued(ahead)
            return await job.done
        finally:
            self._pending[who] -= 1
            if not self._pending[who]:
                del self._pending[who]

    def _start_next(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running < self.workers and self._turns:
            who = self._turns.popleft()
            queue = self._queues[who]
            job = queue.popleft()
            if queue:
                self._turns.append(who)  # their next job waits for everyone else's turn
            else:
                del self._queues[who]
            self._running += 1
            future = loop.run_in_executor(self._pool(), job.fn, *job.args)
            future.add_done_callback(partial(self._finished, job))

    def _finished(self, job: _Job, future: asyncio.Future) -> None:
        self._running -= 1
        self.completed += 1
        if not job.done.done():
            if future.cancelled():
                job.done.cancel()
            elif (error := future.exception()) is not None:
                job.done.set_exception(error)
            else:
                job.done.set_result(future.result())
        self._start_next()

    def close(self) -> None:
        """Stop the workers (what is running is abandoned: its callers are gone)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
