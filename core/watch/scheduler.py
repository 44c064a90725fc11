"""The tick loop: run each step in order every interval, survive any error, never overlap, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]


@dataclass
class TickRecord:
    """When the last tick ran and how it went."""

    number: int = 0
    started: float | None = None  # wall clock (time.time) of its start
    duration: float = 0.0
    errors: int = 0  # ticks that raised, since start


class Scheduler:
    """Runs `steps` one after another, then waits out the rest of `interval` (or stops).

    A tick that takes longer than the interval delays the next one instead of overlapping it;
    an exception in a step is logged, counted and the loop goes on.
    """

    def __init__(self, steps: list[Step], interval: float, name: str = "scheduler", until: Callable[[], bool] | None = None):
        self.steps = steps
        self.interval = interval
        self.name = name
        self.until = until  # an optional end condition (a replay reaching its last candle)
        self.record = TickRecord()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        """Run in the background of the current event loop (again after stop(): a replica regaining its role)."""
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)
        return self._task

    async def run(self) -> None:
        """The loop itself; returns when stopped or when `until` says so."""
        while not self._stop.is_set():
            if self.until is not None and self.until():
                break
            began = time.perf_counter()
            self.record.started = time.time()
            await self.tick_once()
            self.record.duration = time.perf_counter() - began
            wait = max(0.0, self.interval - self.record.duration)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)

    async def tick_once(self) -> None:
        """Every step once; an error is logged and the tick ends there."""
        self.record.number += 1
        try:
            for step in self.steps:
                await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.record.errors += 1
            log.exception("%s: tick %d failed", self.name, self.record.number)

    async def stop(self) -> None:
        """Ask the loop to end after the current tick, and wait for it."""
        self._stop.set()
        if self._task is not None:
            await self._task

    @property
    def finished(self) -> bool:
        """The loop has ended."""
        return self._task is not None and self._task.done()
