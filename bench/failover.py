"""Benchmark: failover of replicas over one PostgreSQL. Two real `collateral-bot run` replicas follow a crash
that unfolds again and again (ETH 3,000 -> 2,000 -> 1,700 -> 2,400 -> 3,000) while the leader of the ticks is
SIGKILLed at random moments (60 times by default) and restarted as a standby. Prints the takeover time
(SIGKILL to another replica holding the ticks' lock), and warnings committed, delivered, lost, duplicated.

    .venv/bin/python bench/failover.py [--kills 60] [--users 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.replicas import CYCLE, failover_run, price_emulators  # noqa: E402
from tests.emulators.telegram import TelegramEmulator  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402


async def main(kills: int, users: int, seed: int) -> None:
    started = time.perf_counter()
    server = PostgresServer(durable=True)
    server.start()
    emu = TelegramEmulator()
    await emu.start()
    hold = 4.0
    cycles = max(1, round(kills * 3.5 / (hold * len(CYCLE))))  # room for a kill every ~3.5 s
    try:
        async with price_emulators() as (world, env):
            with tempfile.TemporaryDirectory() as tmp:
                outcome = await failover_run(server.new_database(), emu, world, env, Path(tmp), users=users, kills=kills,
                                             cycles=cycles, hold=hold, seed=seed)
    finally:
        await emu.close()
        server.stop()
    t = sorted(outcome.takeovers)
    print(f"{outcome.kills} SIGKILLs of the ticks' leader over {cycles} crashes, {users} users, "
          f"{time.perf_counter() - started:.0f} s")
    if t:
        print(f"takeover (SIGKILL -> the standby holds the lock): median {statistics.median(t):.2f} s, "
              f"p90 {t[int(0.9 * (len(t) - 1))]:.2f} s, worst {t[-1]:.2f} s")
    print(f"warnings committed: {outcome.rows}; messages delivered: {outcome.delivered}; lost: {len(outcome.lost)}; "
          f"duplicates: {outcome.duplicates} (all with the same alert id); decided twice: {len(outcome.decided_twice)}")
    seen = sorted(set(outcome.crashes_seen.values()))
    print(f"crashes each user was warned of: {seen} (of {cycles})")
    if outcome.lost or outcome.decided_twice:
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.kills, args.users, args.seed))
