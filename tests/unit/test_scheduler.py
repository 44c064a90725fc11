"""The tick loop survives errors, never overlaps itself and stops cleanly."""

from __future__ import annotations

import asyncio

from core.watch.scheduler import Scheduler


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


async def test_a_tick_still_running_when_the_next_is_due_delays_it():
    started = 0
    release = asyncio.Event()

    async def step():
        nonlocal started
        started += 1
        if started == 1:
            await release.wait()  # held until the test says so: many intervals pass meanwhile

    s = Scheduler([step], interval=0.001)
    s.start()
    for _ in range(50):  # fifty turns of the loop, each at least one interval long
        await asyncio.sleep(0.001)
    assert started == 1  # the ticks that fell due meanwhile did not start beside it
    release.set()

    async def three_ticks():
        while started < 3:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(three_ticks(), 10)  # once it ends, the loop goes on
    await s.stop()


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
