"""Running it for real: the ops endpoint, JSON logs, SIGTERM mid-delivery, backups, bad settings, one bot per database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from core.lending.models import Leg, Overrides, Owner
from core.storage.store import Store
from tests.emulators.telegram import TelegramEmulator

BOT = str(Path(sys.executable).parent / "collateral-bot")
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(tmp_path: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), NO_PROXY="127.0.0.1,localhost", **extra)
    return env


async def start(env: dict, cwd: Path, *args: str):
    return await asyncio.create_subprocess_exec(BOT, *(args or ("run",)), env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
        return r.status, await r.text()


async def until_healthy(port: int, timeout: float = 20) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    last = ""
    while asyncio.get_running_loop().time() < deadline:
        try:
            status, text = await get(f"http://127.0.0.1:{port}/healthz")
            if status == 200:
                return text
            last = text
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"never healthy: {last}")


def stock(db: Path | str, users: int) -> None:
    """Telegram users 1..n with one Aave position each (healthy at ETH $3,000, in danger at $2,000); a file or a URL."""
    store = Store(db)
    for n in range(1, users + 1):
        store.add_position(Owner("telegram", "user", str(n)), "aave-v3", "core", (Leg("ETH", Decimal(10)),),
                           (Leg("USDC", Decimal(15000)),), Overrides(), None)
    store.close()


async def test_healthz_metrics_and_json_logs(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    stock(tmp_path / "bot.db", 3)
    port = free_port()
    env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, HTTP_PORT=str(port),
                  PRICE_INTERVAL_SECONDS="1", LOG_FORMAT="json", LOG_LEVEL="INFO", **price_apis.env())
    proc = await start(env, tmp_path)
    try:
        assert (await until_healthy(port)).startswith("ok: last tick")
        status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        for name in ("collateral_bot_ticks_total", "collateral_bot_tick_seconds", "collateral_bot_positions 3.0",
                     'collateral_bot_price_requests_total{source="coingecko"}', "collateral_bot_assets_degraded 0.0"):
            assert name in metrics, name
        price_apis.world.prices["ETH"] = 2000.0
        await emu.wait_for(lambda m: "DANGER" in m["text"], timeout=10)
        await asyncio.sleep(1.5)
        _, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert 'collateral_bot_deliveries_total{outcome="sent",platform="telegram"} 3.0' in metrics
        assert 'collateral_bot_messages{platform="telegram",status="sent"} 3.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        await emu.close()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert emu.token not in err.decode()


async def test_healthz_says_503_with_the_reason_when_ticks_stop(tmp_path):
    from bot.ops import health
    from bot.replica import Replica

    class Record:
        started = None

    class Scheduler:
        record, interval = Record(), 60

    class App:
        store = Store(tmp_path / "x.db")
        scheduler = Scheduler()
        replica = Replica("solo", None)  # one process on SQLite: it must tick

        class monitor:  # noqa: N801 - a stand-in with the attribute health() reads
            class evaluator:  # noqa: N801
                index: dict = {}

    assert health(App) == (False, "no tick has run yet")
    Record.started = 1.0
    ok, why = health(App)
    assert not ok and why.startswith("last tick")
    App.store.close()


async def test_sigterm_mid_delivery_loses_nothing(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    users = 40
    stock(tmp_path / "bot.db", users)
    port = free_port()
    env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, HTTP_PORT=str(port),
                  PRICE_INTERVAL_SECONDS="1", SHUTDOWN_GRACE_SECONDS="1", **price_apis.env())
    emu.delay_next("sendMessage", 0.5, times=10_000)  # a slow platform: the burst takes a while
    proc = await start(env, tmp_path)
    await until_healthy(port)
    price_apis.world.prices["ETH"] = 2000.0
    await emu.wait_for(lambda m: "DANGER" in m["text"], timeout=15)
    proc.send_signal(signal.SIGTERM)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0 and asyncio.get_running_loop().time() - started < 15  # a bounded shutdown
    first = {m["chat"]["id"] for m in emu.sent if "DANGER" in m["text"]}
    db = sqlite3.connect(tmp_path / "bot.db")
    pending = db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    db.close()
    assert len(first) + pending >= users  # everything is either delivered or waiting in the outbox
    proc = await start(env, tmp_path)  # the restart drains the outbox
    try:
        await emu.wait_for(lambda m: len({x["chat"]["id"] for x in emu.sent if "DANGER" in x["text"]}) == users
                           and m is not None, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
        await emu.close()
    chats = {m["chat"]["id"] for m in emu.sent if "DANGER" in m["text"]}
    assert chats == set(range(1, users + 1))


async def test_backup_and_restore_round_trip(tmp_path):
    stock(tmp_path / "bot.db", 5)
    env = bot_env(tmp_path)
    proc = await start(env, tmp_path, "backup", str(tmp_path / "copy.db"))
    out, err = await proc.communicate()
    assert proc.returncode == 0 and b"integrity ok, 5 positions" in out, err
    # One self-contained file: no -wal or -shm beside it, even after it was read to verify it.
    assert not list(tmp_path.glob("copy.db-*"))
    assert sqlite3.connect(tmp_path / "copy.db").execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db = sqlite3.connect(tmp_path / "bot.db")
    db.execute("DELETE FROM positions")
    db.commit()
    db.close()
    proc = await start(env, tmp_path, "restore", str(tmp_path / "copy.db"))
    out, err = await proc.communicate()
    assert proc.returncode == 0 and b"restored" in out, err
    restored, copy = sqlite3.connect(tmp_path / "bot.db"), sqlite3.connect(tmp_path / "copy.db")
    for table in ("owners", "positions", "legs"):
        assert restored.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == copy.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (tmp_path / "bot.db.before-restore").exists()
    Store(tmp_path / "bot.db").close()  # the bot opens a restored database in WAL mode again
    assert sqlite3.connect(tmp_path / "bot.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    (tmp_path / "junk.db").write_bytes(b"not a database at all")
    proc = await start(env, tmp_path, "restore", str(tmp_path / "junk.db"))
    _, err = await proc.communicate()
    assert proc.returncode == 1 and err.decode().count("\n") == 1 and "not a" in err.decode()


@pytest.mark.parametrize("variable, value, words", [("PRICE_INTERVAL_SECONDS", "soon", "PRICE_INTERVAL_SECONDS must be a number"),
                                                    ("HTTP_PORT", "99999", "HTTP_PORT must be a whole number between 1 and 65535"),
                                                    ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json")])
async def test_a_malformed_setting_fails_in_one_line(tmp_path, variable, value, words):
    proc = await start(bot_env(tmp_path, **{variable: value}), tmp_path, "run")
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and err.decode().count("\n") == 1 and words in err.decode() and not out


@pytest.mark.parametrize("second_path", ["same", "symlink"])
async def test_one_bot_per_database(tmp_path, price_apis, second_path):
    emu = TelegramEmulator()
    await emu.start()
    env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root, **price_apis.env())
    first = await start(env, tmp_path)
    if second_path == "symlink":  # the same file by another name: the lock is taken on the resolved file
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "link.db").symlink_to(tmp_path / "bot.db")
    try:
        await asyncio.sleep(1.5)
        second = await start({**env, "DATABASE_PATH": str(tmp_path / "other" / "link.db")} if second_path == "symlink" else env,
                             tmp_path)
        _, err = await asyncio.wait_for(second.communicate(), 20)
        assert second.returncode == 2 and "already running" in err.decode()
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.communicate(), 20)
        await emu.close()


async def test_a_refused_token_stops_the_bot_in_one_masked_line(tmp_path, price_apis):
    emu = TelegramEmulator()  # it knows only its own token: any other is answered 401, as Telegram does
    await emu.start()
    wrong = "987654:WRONG-TOKEN-never-print-me"
    try:
        proc = await start(bot_env(tmp_path, TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=emu.root, **price_apis.env()),
                           tmp_path, "run")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await emu.close()
    text = (out + err).decode()
    assert proc.returncode == 1 and "collateral-bot: stopped:" in text
    assert "never-print-me" not in text and "987654" not in text


async def test_run_without_a_token_on_a_pipe_says_it_is_the_console(tmp_path):
    proc = await start(bot_env(tmp_path), tmp_path, "run")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0 and "no TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN is set" in err.decode()


async def test_migrate_and_backup_on_postgresql_say_what_they_did_in_one_line(tmp_path, postgres):
    from core.storage.migrations import migrations

    url = postgres.new_database(migrated=False)
    env = bot_env(tmp_path, DATABASE_URL=url)
    out, err = await (await start(env, tmp_path, "migrate")).communicate()
    assert b"applied 0001_owners_positions_legs" in out and migrations.names()[-1].encode() in out, err
    proc = await start(env, tmp_path, "migrate")
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and b"up to date, nothing to apply" in out
    proc = await start(env, tmp_path, "backup", str(tmp_path / "copy.db"))
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"pg_dump" in err and not (tmp_path / "copy.db").exists()
    dead = bot_env(tmp_path, DATABASE_URL=f"postgresql://bot:pa55-word@127.0.0.1:{free_port()}/bot", TELEGRAM_BOT_TOKEN="1:x")
    proc = await start(dead, tmp_path, "run")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 2 and text.count("\n") == 1 and "does not answer" in text, text
    assert "pa55-word" not in text and "Traceback" not in text
