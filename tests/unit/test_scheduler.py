"""The tick loop survives errors, never overlaps itself and stops cleanly."""

from __future__ import annotations

import asyncio

from core.scheduler import Scheduler


async def test_an_error_in_one_tick_does_not_stop_the_loop():
    calls = []

    async def step():
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("one bad tick")

    s = Scheduler([step], interval=0.001)
    s.start()
    while len(calls) < 5:
        await asyncio.sleep(0.001)
    await s.stop()
    assert s.record.errors == 1 and s.finished


async def test_ticks_never_overlap_even_when_slower_than_the_interval():
    running, overlaps, done = 0, 0, 0

    async def slow():
        nonlocal running, overlaps, done
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0.01)
        running -= 1
        done += 1

    s = Scheduler([slow], interval=0.001)
    s.start()
    while done < 5:
        await asyncio.sleep(0.005)
    await s.stop()
    assert overlaps == 0


async def test_stop_waits_for_the_tick_in_progress():
    finished = []

    async def step():
        await asyncio.sleep(0.02)
        finished.append(True)

    s = Scheduler([step], interval=60)
    s.start()
    await asyncio.sleep(0.005)
    await s.stop()
    assert finished == [True] and s.finished


async def test_steps_run_in_order_and_an_end_condition_ends_the_loop():
    order = []

    async def a():
        order.append("a")

    async def b():
        order.append("b")

    s = Scheduler([a, b], interval=0, until=lambda: len(order) >= 6)
    await s.run()
    assert order == ["a", "b"] * 3
