"""Hardening through the real process and real clients: a newer database, a failed start,
and a webhook secret that must not reach the database (the symlinked lock is in test_ops)."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.notifiers import WebhookNotifier
from core import redact
from core.lending.models import ChatRef
from core.storage.migrations import migrations
from core.storage.store import Store
from core.watch.delivery import Dispatcher
from core.watch.notices import AlertItem, Notice
from tests.e2e.test_ops import bot_env, start
from tests.emulators.telegram import TelegramEmulator

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_a_database_from_a_newer_version_is_refused_in_one_line(tmp_path):
    Store(tmp_path / "bot.db").close()
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('collateral-bot', '0099_from_the_future', '2027-01-01')")
    proc = await start(bot_env(tmp_path), tmp_path, "console")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 2 and text.count("\n") == 1 and "Traceback" not in text
    assert str(tmp_path / "bot.db") in text and "0099_from_the_future" in text
    assert f"knows up to {migrations.names()[-1]}" in text  # the newest migration this version has


async def test_a_start_that_fails_says_one_line_and_closes_every_session(tmp_path, price_apis):
    emu = TelegramEmulator()
    await emu.start()
    emu.fail_next("getMe", 500, "Internal Server Error", times=5)
    try:
        proc = await start(bot_env(tmp_path, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_BASE_URL=emu.root,
                                   LOG_LEVEL="WARNING", **price_apis.env()), tmp_path)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await emu.close()
    text = (out + err).decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text and "Unclosed" not in text, text
    [line] = [x for x in text.splitlines() if x.startswith("collateral-bot:")]
    assert line.startswith("collateral-bot: stopped: Telegram did not start:") and "Internal Server Error" in line
    assert emu.token not in text


async def test_a_webhook_url_is_masked_in_the_outbox(bot):
    """ALERT_WEBHOOK_URL holds a key in its path: an error quoting it is stored and shown masked."""
    hits = []

    async def loop_forever(request: web.Request) -> web.Response:  # a misconfigured hook: redirects to itself
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect(str(request.url))  # 307 keeps the POST

    app = web.Application()
    app.router.add_post("/hooks/T0KEN-DO-NOT-STORE", loop_forever)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/hooks/T0KEN-DO-NOT-STORE"))
    redact.remember(url)
    try:
        async with aiohttp.ClientSession() as session:
            notifier = WebhookNotifier("alice", url, session)
            with bot.store.transaction() as db:
                bot.outbox.enqueue(db, Notice(ChatRef("console", "alice"), (AlertItem("worse", 2, "#1", "x", 1.1),), 0.0))
            await Dispatcher(bot.outbox, [notifier]).deliver(patience=0.1)
    finally:
        await server.close()
    assert hits  # it really failed against the server
    stored = "\n".join(str(v) for row in bot.store.db.execute("SELECT * FROM outbox").fetchall() for v in row)
    assert "T0KEN-DO-NOT-STORE" not in stored and "***" in stored
    if bot.store.path is not None:  # SQLite: nothing anywhere in the file
        with sqlite3.connect(bot.store.path) as conn:
            dump = "\n".join(conn.iterdump())
    else:  # PostgreSQL: nothing in any table
        tables = [r[0] for r in bot.store.db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = "\n".join(str(v) for t in tables for row in bot.store.db.execute(f"SELECT * FROM {t}").fetchall() for v in row)
    assert "T0KEN-DO-NOT-STORE" not in dump
