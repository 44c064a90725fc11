"""Warnings end to end in the core: ticks -> rules -> one outbox row per chat, routed to the right chats."""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager

import psycopg
import pytest

from core.lending.models import ChatRef
from core.storage.postgres_engine import WRITER_LOCK
from core.watch.monitor import Monitor
from core.watch.notices import alert_id
from tests.conftest import actor, group_actor

ALICE = actor("alice", "telegram")
ALICE_DM = ChatRef("telegram", "alice")

pytestmark = pytest.mark.both_engines  # the outbox and the alert state, on SQLite and on PostgreSQL


async def add(bot, who, text):
    reply = await bot.assistant.handle(who, text)
    assert not reply.error, reply.title
    return reply


def items_for(bot, chat):
    return [(i.kind, i.label, i.ref) for row in bot.queued() if row.notice.chat == chat for i in row.notice.items]


async def test_a_danger_warning_reaches_the_owner_once(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    assert await bot.tick(ETH=3000) == 0  # first look: learned quietly
    assert await bot.tick(ETH=2000) == 1
    [row] = bot.queued()
    assert row.notice.chat == ALICE_DM and row.notice.alert_id == alert_id(row.id)
    [item] = row.notice.items
    assert (item.kind, item.label, item.ref) == ("worse", "DANGER", "#1")
    assert "health factor 1.10" in item.text and "liquidation at $1,807.23" in item.text
    assert [label for label, _ in item.buttons] == ["Details", "Snooze 1h", "Snooze 24h"]
    assert await bot.tick(ETH=2000) == 0  # nothing new before the reminder
    assert await bot.tick(3600, ETH=2000) == 1  # the hourly reminder
    assert items_for(bot, ALICE_DM)[-1][1] == "STILL IN DANGER"


async def test_one_message_per_chat_per_tick_most_urgent_first(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await add(bot, ALICE, "/add 10 ETH borrow 17000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    assert await bot.tick(ETH=2100) == 1
    [row] = bot.queued()
    assert [i.ref for i in row.notice.items] == ["#2", "#1"]  # #2 is closer to liquidation
    assert row.notice.items[0].hf < row.notice.items[1].hf


async def test_back_to_safe_closes_it(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2600)  # warning
    await bot.tick(ETH=2730)  # 1.51: not clear of the 2 % margin
    await bot.tick(ETH=2800)  # 1.55: safe
    assert [k for k, _, _ in items_for(bot, ALICE_DM)] == ["worse", "safe"]


async def test_a_watched_position_warns_the_group_too(bot):
    group = group_actor("alice", "-100")
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    reply = await add(bot, group, "/watch 1")
    assert reply.title.startswith("W1: your #1")
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2000)
    group_chat = ChatRef("telegram", "-100", True)
    assert items_for(bot, ALICE_DM) == [("worse", "DANGER", "#1")]
    assert items_for(bot, group_chat) == [("worse", "DANGER", "W1 (alice's #1)")]
    [row] = [r for r in bot.queued() if r.notice.chat == group_chat]
    assert ("Snooze 1h", "/snooze W1 1h") in row.notice.items[0].buttons
    assert "Act: /capacity W1 shows" in row.notice.items[0].text  # the group's name for it, not alice's #1
    [mine] = [r for r in bot.queued() if r.notice.chat == ALICE_DM]
    assert "Act: /capacity 1 shows" in mine.notice.items[0].text
    reply = await add(bot, group_actor("bob", "-100"), "/capacity W1")
    assert not reply.error and reply.title.startswith("W1 · Aave v3")
    await add(bot, group, "/unwatch W1")
    await bot.tick(3600, ETH=2000)
    assert len(items_for(bot, group_chat)) == 1  # the reminder no longer goes there


async def test_a_group_owned_position_warns_the_group(bot):
    chat = ChatRef("telegram", "-200", True)
    admin = group_actor("carol", "-200")
    bot.admins.grant(chat, admin.user)
    await add(bot, admin, "/add 100 ETH borrow 150000 USDC on aave-v3 as treasury")
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2000)
    assert items_for(bot, chat) == [("worse", "DANGER", "#1 (treasury)")]


async def test_snooze_quiets_all_but_liquidation(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    reply = await add(bot, ALICE, "/snooze 1 2h")
    assert "Snoozed #1 until" in reply.title
    assert await bot.tick(ETH=2000) == 0
    assert await bot.tick(ETH=1700) == 1
    assert items_for(bot, ALICE_DM) == [("worse", "LIQUIDATABLE", "#1")]
    await add(bot, ALICE, "/snooze 1 off")
    assert await bot.tick(15 * 60, ETH=1700) == 1  # a reminder once the snooze is off


async def test_alerts_off_and_thresholds(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await add(bot, ALICE, "/alerts off")
    assert await bot.tick(ETH=2000) == 0
    await add(bot, ALICE, "/alerts on")
    await bot.tick(ETH=3000)  # back to a calm level while muted ... quietly
    reply = await add(bot, ALICE, "/alerts 1 warn 1.8 critical 1.7")
    assert "warning below HF 1.80, danger below 1.70" in "\n".join(line.value for s in reply.sections for line in s.lines)
    assert await bot.tick(ETH=3000) == 1  # 1.66 is now below the owner's danger level
    assert items_for(bot, ALICE_DM) == [("worse", "DANGER", "#1")]


async def test_cefi_thresholds_in_ltv(bot):
    await add(bot, ALICE, "/add 0.2 BTC borrow 10000 USD on ledn")
    reply = await add(bot, ALICE, "/alerts 1 warn 60% critical 65%")
    text = "\n".join(line.value for s in reply.sections for line in s.lines)
    assert "LTV above 60.0% and 65.0%" in text
    bad = await bot.assistant.handle(ALICE, "/alerts 1 warn 75% critical 65%")
    assert bad.error and bad.usage


async def test_state_survives_a_restart(bot, registry, presets):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2000)
    again = Monitor(bot.store, bot.feed, registry, presets, bot.clock, bot.outbox)
    assert again.load() == 1
    bot.monitor = again
    assert await bot.tick(ETH=2000) == 0  # no second warning after the restart
    assert again.evaluator.state_of(bot.store.position(ALICE.user, 1).row_id).level == 2


async def test_untrusted_prices_freeze_and_notify_once_per_outage(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    bot.source.fail = "http-500"
    for _ in range(50):
        await bot.tick(60)
    bot.source.fail = None
    await bot.tick(ETH=3000)
    assert [k for k, _, _ in items_for(bot, ALICE_DM)] == ["degraded", "restored"]
    degraded = [i for r in bot.queued() for i in r.notice.items if i.kind == "degraded"][0]
    assert "ETH" in degraded.text and "HTTP 500" in degraded.text


async def test_a_removed_position_stops_warning(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await add(bot, ALICE, "/remove 1 yes")
    assert await bot.tick(ETH=2000) == 0


@pytest.mark.parametrize("command", ["/deposit 1 10 ETH", "/repay 1 5000 USDC"])
async def test_changes_reach_the_monitor(bot, command):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await add(bot, ALICE, command)
    assert await bot.tick(ETH=2000) == 0  # healthy enough after the change


async def test_status_shows_the_queue_and_undeliverable(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2000)
    bot.outbox.disable_destination(ALICE_DM, "bot was blocked by the user", bot.clock.now)
    reply = await bot.assistant.handle(ALICE, "/status")
    text = "\n".join(f"{line.label} {line.value}" for s in reply.sections for line in s.lines)
    assert "0 waiting, 0 sent, 1 undeliverable" in text
    assert "to your private chat: bot was blocked by the user" in text
    assert "last check" in text


def outage_notes(bot, chat):
    """('degraded' | 'restored', the assets named) for each monitoring notice to a chat, in order."""
    notes = []
    for kind, text in [(i.kind, i.text) for r in bot.queued() if r.notice.chat == chat for i in r.notice.items]:
        if kind in ("degraded", "restored"):
            notes.append((kind, re.match(r"Prices for ([A-Z, ]+) (?:cannot|are)", text)[1]))
    return notes


async def test_outage_notices_name_each_asset_going_bad_and_coming_back(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await add(bot, ALICE, "/add 1 BTC borrow 20000 USDC on aave-v3")
    await bot.tick(ETH=3000, BTC=60000)
    bot.source.prices.pop("ETH")
    await bot.tick()
    bot.source.prices.pop("BTC")
    await bot.tick()  # BTC joins an outage already going on
    await bot.tick(ETH=3000)  # ETH back, BTC still out
    bot.source.prices.pop("ETH")
    await bot.tick(BTC=60000)  # in one tick: BTC back, ETH out again
    await bot.tick(ETH=3000)
    assert outage_notes(bot, ALICE_DM) == [("degraded", "ETH"), ("degraded", "BTC"), ("restored", "ETH"),
                                           ("degraded", "ETH"), ("restored", "BTC"), ("restored", "ETH")]


async def test_a_chat_that_stopped_watching_is_not_told_prices_are_back_when_they_are_not(bot):
    group = ChatRef("telegram", "-100", True)
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await add(bot, ALICE, "/add 1 BTC borrow 20000 USDC on aave-v3")
    await add(bot, group_actor("alice", "-100"), "/watch 1")
    await bot.tick(ETH=3000, BTC=60000)
    bot.source.prices.pop("ETH")
    await bot.tick()
    await add(bot, group_actor("alice", "-100"), "/unwatch W1")
    bot.source.prices.pop("BTC")
    await bot.tick()  # the degraded set changes while ETH is still out
    await bot.tick(ETH=3000, BTC=60000)
    assert outage_notes(bot, group) == [("degraded", "ETH")]
    assert outage_notes(bot, ALICE_DM) == [("degraded", "ETH"), ("degraded", "BTC"), ("restored", "BTC, ETH")]


async def test_a_tick_that_could_not_commit_is_decided_again(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    # another writer holds the writers' turn; the tick gives up quickly
    with another_writer(bot), pytest.raises((sqlite3.OperationalError, psycopg.errors.LockNotAvailable),
                                            match="locked|lock timeout"):
        await bot.tick(ETH=2000)
    assert bot.queued() == []
    assert await bot.tick(ETH=2000) == 1  # the same price: the warning is decided again, not lost
    assert items_for(bot, ALICE_DM) == [("worse", "DANGER", "#1")]


@contextmanager
def another_writer(bot):
    """Another writer holds the database (SQLite: BEGIN IMMEDIATE; PostgreSQL: the writers' advisory lock)."""
    if bot.store.dialect == "sqlite":
        bot.store.db.execute("PRAGMA busy_timeout = 20")
        other = sqlite3.connect(bot.store.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
    else:
        bot.store.db.lock_timeout = 0.05
        with psycopg.connect(bot.store.db.url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK])
            yield


async def test_a_degraded_notice_is_not_lost_to_a_failed_commit(bot):
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.tick(ETH=3000)
    failures = [sqlite3.OperationalError("disk I/O error")]

    def on_commit(db, now):
        if failures:
            raise failures.pop()

    bot.monitor.on_commit = on_commit
    bot.source.prices.pop("ETH")
    with pytest.raises(sqlite3.OperationalError):
        await bot.tick()
    assert bot.queued() == []
    await bot.tick()
    assert outage_notes(bot, ALICE_DM) == [("degraded", "ETH")]


async def test_reminders_back_off_and_alerts_sets_their_cap(bot):
    """A position liquidatable for a day: reminders at 15, 30, 60 min ... not 96 of them; /alerts ID remind 1h caps the pause."""
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await add(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")
    reply = await add(bot, ALICE, "/alerts 2 remind 1h")
    assert "up to 1 h" in str(reply.sections)
    await bot.tick(ETH=3000)
    await bot.tick(ETH=1700)  # both liquidatable
    counts = {"#1": 0, "#2": 0}
    for _ in range(24 * 4):  # a day in 15-minute ticks
        await bot.tick(900, ETH=1700)
    for kind, _, ref in items_for(bot, ALICE_DM):
        if kind == "reminder":
            counts[ref] += 1
    # #1: after 15, 30, 60 min, 2, 4, 8 h (15.75 h in all; the next would come 12 h later) = 6
    # #2: 15, 30, 60, then hourly for the rest of the day (1.75 h + 22) = 25
    assert counts == {"#1": 6, "#2": 25}
    await add(bot, ALICE, "/alerts 2 reset")
    assert "up to 12 h (default" in str((await add(bot, ALICE, "/alerts 2")).sections)
    await bot.tick(900, ETH=2400)
    await bot.tick(900, ETH=3000)
    assert [k for k, _, _ in items_for(bot, ALICE_DM)][-1] == "safe"
