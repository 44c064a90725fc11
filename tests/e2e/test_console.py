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


def bot_env(tmp_path: Path, apis=None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), NO_PROXY="127.0.0.1,localhost")
    nowhere = "http://127.0.0.1:9"  # port 9: nothing listens
    env.update(COINGECKO_BASE_URL=nowhere, MEMPOOL_BASE_URL=nowhere, BLOCKCHAIN_INFO_BASE_URL=nowhere)
    env.update(apis.env() if apis else {})
    env.update(extra)
    return env


def console_script() -> str:
    return str(Path(sys.executable).parent / "collateral-bot")


async def test_tour_through_the_real_console(price_apis, tmp_path):
    code, out, err = await run_console([console_script(), "console", "--user", "alice"], TOUR, bot_env(tmp_path, price_apis), tmp_path)
    assert code == 0, err
    for expected in ("Added #1", "1.66", "$1,807.23", "39.76% below", "9,150 USDC", "1,600 USDC",
                     "1.66 → 1.16", "HF 1.66 OK", "Sorry: '-5': amounts must be positive.", "Usage: /add"):
        assert expected in out, expected
    assert "Traceback" not in out + err
    assert price_apis.world.coingecko.requests, "prices came from the emulator"


async def test_python_dash_m_bot_and_two_users_on_one_database(price_apis, tmp_path):
    env = bot_env(tmp_path, price_apis)
    code, out, _ = await run_console([sys.executable, "-m", "bot", "console", "--user", "alice"],
                                     "/add 1 BTC borrow 20000 USD on custom ltv 50% lt 80%\n", env, tmp_path)
    assert code == 0 and "Added #1" in out
    code, out, _ = await run_console([console_script(), "console", "--user", "bob"], "/positions\n/health 1\n/remove 1 yes\n", env, tmp_path)
    assert "You have no positions yet." in out and "You have no position #1" in out
    code, out, _ = await run_console([console_script(), "console", "--user", "alice"], "/positions\n", env, tmp_path)
    assert "#1" in out and "Custom lender" in out  # still there: bob could not touch it


async def test_console_without_prices_still_answers(tmp_path):
    env = bot_env(tmp_path)
    code, out, err = await run_console([console_script(), "console"], "/add 10 ETH borrow 15000 USDC on aave-v3\n/health 1\n", env, tmp_path)
    assert code == 0
    assert "Added #1" in out and "CoinGecko could not be reached" in out and "15,000 USDC" in out
    assert "Traceback" not in out + err


async def test_run_without_a_token_opens_the_console(price_apis, tmp_path):
    code, out, _ = await run_console([console_script()], "/start\n", bot_env(tmp_path, price_apis), tmp_path)
    assert code == 0 and "collateral-bot" in out and "/add 10 ETH borrow 15000 USDC on aave-v3" in out


async def test_three_sources_and_status(price_apis, tmp_path):
    env = bot_env(tmp_path, price_apis, PRICE_SOURCES="coingecko,binance,coinbase")
    price_apis.world.coinbase.fault = "500"
    code, out, err = await run_console([console_script(), "console"], "/add 1 ETH on aave-v3\n/price ETH\n/status\n", env, tmp_path)
    assert code == 0, err
    assert "coingecko, binance · " in out and "trusted" in out
    assert "coinbase" in out and "HTTP 500" in out


async def test_replay_shows_a_real_crash_and_the_guard(tmp_path):
    script = "/add 10 ETH borrow 900 USDC on aave-v3\n/add 100 LINK on custom lt 80%\n"
    code, out, err = await run_console([console_script(), "console", "--replay", "2020-03-12", "--speed", "1e9"],
                                       script, bot_env(tmp_path), tmp_path)
    assert code == 0, err
    assert "Replaying 2020-03-12" in out
    assert "2020-03-12 10:30  ! LINK price not trusted: Replay jumped -100.0% to $0.0001" in out
    assert "2020-03-12 10:45  ✓ LINK price trusted again" in out
    assert "low $86.00 (2020-03-13 02:15)" in out  # ETH at the bottom of Black Thursday on Binance
    assert "LIQUIDATABLE" in out or "danger" in out
    assert "Replay finished." in out


async def test_replay_of_a_month_not_bundled_fails_in_one_line(tmp_path):
    code, out, err = await run_console([console_script(), "console", "--replay", "2019-01"], "", bot_env(tmp_path), tmp_path)
    assert code == 2 and "no bundled history for 2019-01" in err and "Traceback" not in err


async def test_a_chart_is_saved_beside_the_database(price_apis, tmp_path):
    code, out, err = await run_console([console_script(), "console"], "/add 10 ETH borrow 15000 USDC on aave-v3\n/chart 1 whatif\n",
                                       bot_env(tmp_path, price_apis), tmp_path)
    assert code == 0, err
    saved = [line.split("Saved the picture to ", 1)[1] for line in out.splitlines() if "Saved the picture to" in line]
    assert saved and Path(saved[0]).read_bytes()[:4] == b"\x89PNG" and Path(saved[0]).parent == tmp_path / "files"


async def test_a_miner_links_a_ledn_loan_and_reads_its_projection_in_the_console(price_apis, tmp_path):
    script = "\n".join(["/add 1 BTC borrow 30000 USD on ledn", "/rate 1 12%",
                         "/mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%", "/mining 1 loan 1", "/mining 1 pledge 50%",
                         "/mining 1 whatif BTC -30%", "/risk 1", "/mining add 200 TH/s 17.5 J/TH power 9"]) + "\n"
    code, out, err = await run_console([console_script(), "console", "--user", "alice"], script, bot_env(tmp_path, price_apis),
                                       tmp_path)
    assert code == 0, err
    for expected in ("Fleet 1 added: 200.00 TH/s", "The loan, month by month", "Month 12", "pledging 50%",
                     "network from mempool.space", "reaches its margin call in month 1", "Chance that #1 reaches liquidation",
                     "Within 30 days", "out of any plausible range", "Usage: /mining"):
        assert expected in out, (expected, out[-3000:])
    assert price_apis.mining.requests >= 4 and "Traceback" not in out + err
