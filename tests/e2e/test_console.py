"""The real `collateral-bot console` as a subprocess, prices from the loopback CoinGecko emulator."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

TOUR = "\n".join(
    [
        "/add 10 ETH borrow 15000 USDC on aave-v3",
        "/health 1",
        "/capacity 1 hf 1.5",
        "/whatif ETH -30%",
        "/positions",
        "/add -5 ETH",
        "",
    ]
)


async def run_console(args: list[str], stdin: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    return proc.returncode, out.decode(), err.decode()


def bot_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), COINGECKO_BASE_URL=url, NO_PROXY="127.0.0.1,localhost")
    return env


def console_script() -> str:
    return str(Path(sys.executable).parent / "collateral-bot")


async def test_tour_through_the_real_console(coingecko, tmp_path):
    state, url = coingecko
    code, out, err = await run_console([console_script(), "console", "--user", "alice"], TOUR, bot_env(tmp_path, url), tmp_path)
    assert code == 0, err
    for expected in ("Added #1", "1.66", "$1,807.23", "39.76% below", "9,150 USDC", "1,600 USDC",
                     "1.66 → 1.16", "HF 1.66 OK", "Sorry: '-5': amounts must be positive.", "Usage: /add"):
        assert expected in out, expected
    assert "Traceback" not in out + err
    assert state.requests, "prices came from the emulator"


async def test_python_dash_m_bot_and_two_users_on_one_database(coingecko, tmp_path):
    _, url = coingecko
    env = bot_env(tmp_path, url)
    code, out, _ = await run_console([sys.executable, "-m", "bot", "console", "--user", "alice"],
                                     "/add 1 BTC borrow 20000 USD on custom ltv 50% lt 80%\n", env, tmp_path)
    assert code == 0 and "Added #1" in out
    code, out, _ = await run_console([console_script(), "console", "--user", "bob"], "/positions\n/health 1\n/remove 1 yes\n", env, tmp_path)
    assert "You have no positions yet." in out and "You have no position #1" in out
    code, out, _ = await run_console([console_script(), "console", "--user", "alice"], "/positions\n", env, tmp_path)
    assert "#1" in out and "Custom lender" in out  # still there: bob could not touch it


async def test_console_without_prices_still_answers(tmp_path):
    env = bot_env(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    code, out, err = await run_console([console_script(), "console"], "/add 10 ETH borrow 15000 USDC on aave-v3\n/health 1\n", env, tmp_path)
    assert code == 0
    assert "Added #1" in out and "CoinGecko could not be reached" in out and "15,000 USDC" in out
    assert "Traceback" not in out + err


async def test_run_without_a_token_opens_the_console(coingecko, tmp_path):
    _, url = coingecko
    code, out, _ = await run_console([console_script()], "/start\n", bot_env(tmp_path, url), tmp_path)
    assert code == 0 and "collateral-bot" in out and "/add 10 ETH borrow 15000 USDC on aave-v3" in out
