"""The dispatcher: marks sent only on acceptance, maps platform errors, keeps limits, urgency first."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from core.lending.models import ChatRef
from core.watch.delivery import ChatMoved, Dispatcher, Limiter, MaybeDelivered, RetryLater, Rule, Undeliverable
from core.watch.notices import AlertItem, Notice
from core.watch.outbox import KEEP_DEAD, KEEP_SENT, MAX_ATTEMPTS, PRUNE_EVERY, Outbox
from tests.conftest import actor, group_actor
from tests.fakes import FakeNotifier

pytestmark = pytest.mark.both_engines  # the outbox and the alert state, on SQLite and on PostgreSQL


def notice(chat: ChatRef, hf: float, level: int = 2, text: str = "x") -> Notice:
    return Notice(chat, (AlertItem("worse", level, "#1", text, hf),), 0.0)


def enqueue(bot, *notices: Notice) -> list[int]:
    with bot.store.transaction() as db:
        return [bot.outbox.enqueue(db, n) for n in notices]


def status_of(bot, row_id):
    return bot.store.db.execute("SELECT status, last_error FROM outbox WHERE id = ?", [row_id]).fetchone()


def failing(bot, name: str, event: str) -> None:
    """A real trigger (SQLite's or PostgreSQL's) that makes a write fail, as a full disk would."""
    if bot.store.dialect == "sqlite":
        bot.store.db.conn.executescript(f"CREATE TRIGGER {name} BEFORE {event} BEGIN SELECT RAISE(ABORT, 'disk is full'); END;")
    else:
        bot.store.db.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'disk is full'; END $$")
        bot.store.db.execute(f"CREATE TRIGGER {name} BEFORE {event} FOR EACH ROW EXECUTE FUNCTION {name}()")


def stop_failing(bot, name: str, table: str) -> None:
    """Drop a trigger made by failing()."""
    bot.store.db.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if bot.store.dialect == "postgresql" else ""))


class MovingNotifier(FakeNotifier):
    """Telegram's answer for a group that became a supergroup: every send to `old_id` is refused."""

    def __init__(self, old_id: str, new_id: str):
        super().__init__()
        self.old_id, self.new_id = old_id, new_id

    async def send(self, chat, notice) -> None:
        if chat.chat_id == self.old_id:
            raise ChatMoved(self.new_id)
        await super().send(chat, notice)


A, B = ChatRef("telegram", "1"), ChatRef("telegram", "2")


async def test_sent_only_after_acceptance_in_urgency_order(bot):
    rows = enqueue(bot, notice(A, 1.15), notice(B, 0.95))
    notifier = FakeNotifier()
    await Dispatcher(bot.outbox, [notifier]).deliver()
    assert [chat.chat_id for chat, _ in notifier.sent] == ["2", "1"]  # the liquidatable one first
    assert all(status_of(bot, r)[0] == "sent" for r in rows)


async def test_a_chat_reads_its_messages_in_order(bot):
    enqueue(bot, notice(A, 1.4, 1, "first"), notice(A, 0.9, 3, "second"))
    notifier = FakeNotifier()
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    assert [n.items[0].text for _, n in notifier.sent] == ["first", "second"]


async def test_retry_after_is_honoured(bot):
    [row] = enqueue(bot, notice(A, 1.1))
    notifier = FakeNotifier()
    notifier.errors = [RetryLater(0.3)]
    d = Dispatcher(bot.outbox, [notifier], Limiter({}))
    started = asyncio.get_running_loop().time()
    await d.deliver(patience=1.0)
    assert status_of(bot, row)[0] == "sent"
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_blocked_disables_the_destination_and_dead_letters(bot):
    rows = enqueue(bot, notice(A, 1.1), notice(A, 1.0), notice(B, 1.1))
    notifier = FakeNotifier()
    notifier.errors = [Undeliverable("Forbidden: bot was blocked by the user")]
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    assert status_of(bot, rows[0]) == ("dead", "destination disabled: Forbidden: bot was blocked by the user")
    assert status_of(bot, rows[1])[0] == "dead"
    assert status_of(bot, rows[2])[0] == "sent"
    assert bot.outbox.disabled_destinations() == [("telegram:1", "Forbidden: bot was blocked by the user")]
    enqueue(bot, notice(A, 1.0))
    assert bot.outbox.pending(1e12) == []  # never retried


async def test_a_group_that_moved_is_followed(bot):
    old = ChatRef("telegram", "-100", True)
    [row] = enqueue(bot, notice(old, 1.1))
    notifier = FakeNotifier()
    notifier.errors = [ChatMoved("-1001234")]
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    [(chat, sent)] = notifier.sent
    assert chat == ChatRef("telegram", "-1001234", True)
    assert status_of(bot, row)[0] == "sent"


async def test_a_group_that_moved_into_a_supergroup_already_in_use_is_merged(bot):
    old, new = ChatRef("telegram", "-100", True), ChatRef("telegram", "-1001234", True)
    carol_old, carol_new = group_actor("carol", "-100"), group_actor("carol", "-1001234")
    bot.admins.grant(old, carol_old.user)
    bot.admins.grant(new, carol_new.user)
    for who, text in ((carol_old, "/add 100 ETH borrow 150000 USDC on aave-v3 as treasury"),
                      (actor("alice", "telegram"), "/add 10 ETH borrow 15000 USDC on aave-v3"),
                      (group_actor("alice", "-100"), "/watch 1"),  # W1 in the old group
                      (actor("bob", "telegram"), "/add 10 ETH borrow 15000 USDC on aave-v3"),
                      (group_actor("bob", "-100"), "/watch 1")):  # W2
        assert not (await bot.assistant.handle(who, text)).error
    await bot.tick(ETH=3000)
    await bot.tick(ETH=2000)  # one warning for the old group, naming #1, W1 and W2
    # Before that warning bounced, the supergroup was used: its own #1, bob's #1 shared as its W1.
    for who, text in ((carol_new, "/add 1 ETH on aave-v3 as fresh"), (group_actor("bob", "-1001234"), "/watch 1")):
        assert not (await bot.assistant.handle(who, text)).error
    with bot.store.transaction() as db:
        db.execute("INSERT INTO chat_outages (chat_key, assets, since) VALUES (?, '[\"BTC\"]', 5), (?, '[\"ETH\"]', 9)",
                   [old.key, new.key])

    notifier = MovingNotifier("-100", "-1001234")
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()

    warning, renumbered = [n for chat, n in notifier.sent if chat == new]
    assert {i.ref: [c for _, c in i.buttons] for i in warning.items} == {
        "#2 (treasury)": ["/health 2", "/snooze 2 1h", "/snooze 2 24h"],
        "W3 (alice's #1)": ["/health W3", "/snooze W3 1h", "/snooze W3 24h"],
        "W1 (bob's #1)": ["/health W1", "/snooze W1 1h", "/snooze W1 24h"]}
    treasury = next(i for i in warning.items if i.ref.startswith("#2"))
    assert treasury.text.startswith("#2 (treasury) · ") and "/capacity 2 shows" in treasury.text
    assert "#1 is now #2, W1 is now W3, W2 is now W1" in renumbered.items[0].text
    db = bot.store.db
    assert db.execute("SELECT number, label FROM positions WHERE owner_key = 'telegram:group:-1001234' ORDER BY number").fetchall() == [
        (1, "fresh"), (2, "treasury")]
    assert db.execute("SELECT count(*) FROM owners WHERE key = 'telegram:group:-100'").fetchone() == (0,)
    assert [(w, p.owner.id) for w, p, _ in bot.store.watches_in(new)] == [(1, "bob"), (3, "alice")]
    assert bot.store.watches_in(old) == []
    assert [(k, json.loads(a), since) for k, a, since in db.execute("SELECT chat_key, assets, since FROM chat_outages")] == [
        (new.key, ["BTC", "ETH"], 5)]
    assert db.execute("SELECT chat_key FROM destinations WHERE chat_key IN (?, ?)", [old.key, new.key]).fetchall() == [(new.key,)]
    assert bot.outbox.pending(1e12) == []  # everything went out, to the new id
    reply = await bot.assistant.handle(carol_new, "/health 2")
    assert not reply.error and "treasury" in reply.title


async def test_a_move_that_fails_is_retried_then_dead_lettered_not_resent_forever(bot, caplog):
    old = ChatRef("telegram", "-100", True)
    first, second = enqueue(bot, notice(old, 1.1), notice(old, 1.2))
    bot.store.db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", [MAX_ATTEMPTS - 1, first])
    failing(bot, "no_moves", "UPDATE OF chat_key ON outbox")
    with caplog.at_level(logging.ERROR, "core.watch.delivery"):
        await Dispatcher(bot.outbox, [MovingNotifier("-100", "-1001234")], Limiter({})).deliver(patience=0.0)
    status, error = status_of(bot, first)
    assert status == "dead" and f"gave up after {MAX_ATTEMPTS} attempts: could not follow the chat to -1001234" in error
    assert bot.store.db.execute("SELECT status, attempts FROM outbox WHERE id = ?", [second]).fetchone() == ("pending", 1)
    assert any("could not follow chat telegram:-100" in r.getMessage() for r in caplog.records)
    assert bot.store.db.execute("SELECT count(*) FROM destinations WHERE chat_key = ?", [old.key]).fetchone() == (1,)


async def test_a_timeout_is_retried_only_for_critical_warnings(bot):
    critical, mild = enqueue(bot, notice(A, 1.1, 2), notice(B, 1.4, 1))
    notifier = FakeNotifier()
    notifier.errors = [MaybeDelivered("timed out"), MaybeDelivered("timed out")]
    d = Dispatcher(bot.outbox, [notifier], Limiter({}))
    await d.deliver(patience=0.0)
    assert status_of(bot, mild) == ("sent", "timed out; may have been delivered")
    assert status_of(bot, critical)[0] == "pending"  # retried in 5 s, a duplicate beats a loss


async def test_other_failures_back_off_then_dead_letter(bot):
    [row] = enqueue(bot, notice(A, 1.1))
    for _attempt in range(MAX_ATTEMPTS):
        bot.store.db.execute("UPDATE outbox SET next_attempt_at = 0 WHERE id = ?", [row])
        notifier = FakeNotifier()
        notifier.errors = [ConnectionError("network down")]
        await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver(patience=0.0)
    status, error = status_of(bot, row)
    assert status == "dead" and f"gave up after {MAX_ATTEMPTS} attempts" in error


async def test_the_last_failed_attempt_lets_the_chat_s_next_message_go_in_order(bot, caplog):
    first, second = enqueue(bot, notice(A, 1.1, text="first"), notice(A, 1.2, text="second"))
    bot.store.db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", [MAX_ATTEMPTS - 1, first])
    notifier = FakeNotifier()
    notifier.errors = [ConnectionError("network down")]
    with caplog.at_level(logging.ERROR, "core.watch.delivery"):
        await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver(patience=0.0)
    assert status_of(bot, first)[0] == "dead"
    assert [n.items[0].text for _, n in notifier.sent] == ["second"]  # not skipped, not left for later
    assert status_of(bot, second)[0] == "sent"
    [alone] = enqueue(bot, notice(B, 1.1))  # the last row of its chat: nothing else to pop
    bot.store.db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", [MAX_ATTEMPTS - 1, alone])
    notifier.errors = [ConnectionError("network down")]
    with caplog.at_level(logging.ERROR, "core.watch.delivery"):
        await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver(patience=0.0)
    assert status_of(bot, alone)[0] == "dead"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_limiter_windows():
    limiter = Limiter({"telegram": (Rule("all", 30, 1.0), Rule("chat", 1, 1.0), Rule("group", 20, 60.0))}, safety=1.0)
    group = ChatRef("telegram", "-5", True)
    now = 100.0
    for i in range(20):
        assert limiter.wait(group, now + i * 1.0) == 0
        limiter.record(group, now + i * 1.0)
    assert limiter.wait(group, now + 20.0) == pytest.approx(40.0)  # 20 a minute per group
    chats = [ChatRef("telegram", str(i)) for i in range(40)]
    for chat in chats[:30]:
        limiter.record(chat, 200.0)
    assert limiter.wait(chats[30], 200.0) == pytest.approx(1.0)  # 30 a second overall
    limiter.pause(chats[31], 5, "chat", 300.0)
    assert limiter.wait(chats[31], 300.0) == pytest.approx(5.0)


def test_the_overall_limit_is_paced_evenly():
    limiter = Limiter({"telegram": (Rule("all", 30, 1.0, smooth=True),)}, safety=1.03)
    chats = [ChatRef("telegram", str(i)) for i in range(100)]
    now, sent = 0.0, []
    for chat in chats:
        now += limiter.wait(chat, now)
        limiter.record(chat, now)
        sent.append(now)
    # no second holds more than 30, and the rate is 30/s less the 3 % margin
    assert max(sum(1 for t in sent if a <= t < a + 1.0) for a in sent) <= 30
    assert (len(sent) - 1) / (sent[-1] - sent[0]) == pytest.approx(30.0 / 1.03, rel=0.01)


def test_a_late_send_keeps_the_grid():
    limiter = Limiter({"telegram": (Rule("all", 10, 1.0, smooth=True),)}, safety=1.0)
    chat = ChatRef("telegram", "1")
    limiter.record(chat, 0.0)
    limiter.record(chat, 0.104)  # 4 ms late for the 0.1 slot
    assert limiter.wait(chat, 0.104) == pytest.approx(0.096)  # the next slot is still 0.2


async def test_owners_hear_when_a_group_stops_taking_their_warnings(bot):
    from tests.conftest import actor, group_actor

    alice = actor("alice", "telegram")
    await bot.assistant.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.assistant.handle(group_actor("alice", "-7"), "/watch 1")
    group = ChatRef("telegram", "-7", True)
    enqueue(bot, notice(group, 1.1))
    notifier = FakeNotifier()
    notifier.errors = [Undeliverable("Forbidden: bot was kicked from the group chat")]
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    [(chat, told)] = notifier.sent
    assert chat == ChatRef("telegram", "alice") and told.items[0].kind == "disabled"
    assert "bot was kicked" in told.items[0].text and "/watch 1" in told.items[0].text


async def test_disabling_a_group_and_telling_its_members_cannot_be_split(bot):
    await bot.assistant.handle(actor("alice", "telegram"), "/add 10 ETH borrow 15000 USDC on aave-v3")
    await bot.assistant.handle(group_actor("alice", "-7"), "/watch 1")
    group = ChatRef("telegram", "-7", True)
    [row] = enqueue(bot, notice(group, 1.1))
    failing(bot, "no_new_rows", "INSERT ON outbox")  # the members' notice cannot be written
    notifier = FakeNotifier()
    notifier.errors = [Undeliverable("Forbidden: bot was kicked from the group chat")]
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    assert bot.outbox.disabled_destinations() == [] and status_of(bot, row)[0] == "pending"  # nothing half done
    stop_failing(bot, "no_new_rows", "outbox")
    notifier.errors = [Undeliverable("Forbidden: bot was kicked from the group chat")]
    await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver()
    assert bot.outbox.disabled_destinations() == [(group.key, "Forbidden: bot was kicked from the group chat")]
    [(chat, told)] = notifier.sent
    assert chat == ChatRef("telegram", "alice") and told.items[0].kind == "disabled"


async def test_finished_rows_are_pruned_hourly_and_ids_are_never_reused(bot):
    old = enqueue(bot, notice(A, 1.1), notice(B, 1.1), notice(A, 1.1))
    await Dispatcher(bot.outbox, [FakeNotifier()]).deliver()
    bot.outbox.dead(old[2], "test")
    now = time.time()
    bot.store.db.execute("UPDATE outbox SET created_at = ?", [now - KEEP_SENT - 60])
    outbox = Outbox(bot.store)  # the dispatcher's own outbox already pruned this hour
    assert outbox.prune(now) == 2  # both sent rows; a dead letter is kept a month
    assert [status_of(bot, r) is None for r in old] == [True, True, False]
    assert outbox.prune(now + KEEP_DEAD) == 0  # not again within the hour
    assert outbox.prune(now + KEEP_DEAD + PRUNE_EVERY) == 0  # the dead letter is old now, but the newest row stays
    [new] = enqueue(bot, notice(A, 1.1))
    assert new > old[2]  # so a new message never gets an old alert id
