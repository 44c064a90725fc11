"""Heavy work: a bounded pool, round-robin across users, a cap per user, real worker processes."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from core.chat.heavy import HeavyWork, bundled_backtest
from core.errors import LimitReached
from core.market import charts
from core.watch.backtest import Leg, Owed

_gate = threading.Event()


def _job(name: str, log: list) -> str:
    _gate.wait(5)
    log.append(name)
    return name


async def test_jobs_run_round_robin_across_users_and_the_waiting_are_told():
    heavy = HeavyWork(0)  # one thread
    log, told = [], []

    async def note(ahead: int) -> None:
        told.append(ahead)

    _gate.clear()
    blocker = asyncio.create_task(heavy.run("x", _job, "x1", log))
    await asyncio.sleep(0.05)
    tasks = [asyncio.create_task(heavy.run(who, _job, name, log, on_queued=note))
             for who, name in (("a", "a1"), ("a", "a2"), ("b", "b1"), ("c", "c1"))]
    await asyncio.sleep(0.05)
    _gate.set()
    assert await asyncio.gather(blocker, *tasks) == ["x1", "a1", "a2", "b1", "c1"]
    assert log == ["x1", "a1", "b1", "c1", "a2"]  # a's second waits behind everyone else's first
    assert told == [1, 2, 3, 4]  # each was told how many were queued or running before it
    heavy.close()


async def test_a_user_may_have_only_a_few_on_the_way():
    heavy = HeavyWork(0, per_user=2)
    _gate.clear()
    first = [asyncio.create_task(heavy.run("a", _job, str(i), [])) for i in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(LimitReached):
        await heavy.run("a", _job, "3", [])
    other = asyncio.create_task(heavy.run("b", _job, "b", []))  # others are not held up by a's cap
    _gate.set()
    await asyncio.gather(*first, other)
    heavy.close()


def _pid() -> int:
    return os.getpid()


async def test_worker_processes_draw_charts_and_run_backtests():
    heavy = HeavyWork(1)
    try:
        assert await heavy.run("a", _pid) != os.getpid()  # really another process
        png = await heavy.run("a", charts.health_curve, [1000.0, 2000.0, 3000.0], [0.6, 1.1, 1.66], "ETH", 3000.0,
                              1807.0, 1.5, 1.2, "test")
        assert png[:4] == b"\x89PNG"
        [result] = await heavy.run("a", bundled_backtest, "2020-03", [Leg("ETH", 10.0, 0.83)], [Owed("USDC", 500.0, True)],
                                   1.5, 1.2)
        assert result.liquidated_at is None
    finally:
        heavy.close()
