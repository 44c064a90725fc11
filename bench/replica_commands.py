"""Benchmark: commands in Telegram webhook mode spread over one replica, then two, over one PostgreSQL.

Each user sends /health 1 (a read of their position and a priced answer); a load balancer's part is
played here: the updates are POSTed round-robin to the replicas' webhook ports, 32 at a time. A
command's latency runs from its POST to the Telegram emulator receiving the answer. Prints throughput
and p50/p99 for each setup, in one run.

    .venv/bin/python bench/replica_commands.py [--commands 1500] [--users 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.replicas import price_emulators, webhook_load  # noqa: E402
from tests.emulators.telegram import TelegramEmulator  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402


async def main(commands: int, users: int) -> None:
    server = PostgresServer(durable=True)
    server.start()
    emu = TelegramEmulator()
    await emu.start()
    try:
        async with price_emulators() as (_, price_env):
            with tempfile.TemporaryDirectory() as tmp:
                for replicas in (1, 2):
                    print((await webhook_load(replicas, server, emu, price_env, users, commands, Path(tmp))).summary())
                    sys.stdout.flush()
    finally:
        await emu.close()
        server.stop()
    print(f"(machine: {os.cpu_count()} cores shared by the replicas, PostgreSQL and this load generator with the emulator)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1500)
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.users))
