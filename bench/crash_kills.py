"""Benchmark: crash safety at scale. The real bot replays a crash and is SIGKILLed at random moments
(100 times by default), restarted each time; what a loopback webhook received is compared with an
uninterrupted reference run. Prints kills, warnings expected, lost, duplicated.

    .venv/bin/python bench/crash_kills.py [--kills 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.crash import crash_run  # noqa: E402


async def main(kills: int, seed: int) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outcome = await crash_run(Path(tmp), kills, seed)
    print(f"{outcome.kills} SIGKILLs landed on a running bot (of {kills} tried), {time.perf_counter() - started:.0f} s")
    print(f"warnings expected (reference run): {outcome.expected}; received: {outcome.received}")
    print(f"lost: {len(outcome.lost)}; unexpected: {len(outcome.unexpected)}; changed text: {len(outcome.changed)}; "
          f"duplicates: {outcome.duplicates} (allowed: one per kill = {outcome.kills})")
    if outcome.lost or outcome.unexpected or outcome.changed or outcome.duplicates > outcome.kills:
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.kills, args.seed))
