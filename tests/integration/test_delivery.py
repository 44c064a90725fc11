"""The dispatcher: marks sent only on acceptance, maps platform errors, keeps limits, urgency first."""

from __future__ import annotations

import asyncio

import pytest

from core.delivery import ChatMoved, Dispatcher, Limiter, MaybeDelivered, RetryLater, Rule, Undeliverable
from core.models import ChatRef
from core.notices import AlertItem, Notice
from tests.fakes import FakeNotifier


def notice(chat: ChatRef, hf: float, level: int = 2, text: str = "x") -> Notice:
    return Notice(chat, (AlertItem("worse", level, "#1", text, hf),), 0.0)


def enqueue(bot, *notices: Notice) -> list[int]:
    with bot.store.transaction() as db:
        return [bot.outbox.enqueue(db, n) for n in notices]


def status_of(bot, row_id):
    return bot.store.db.execute("SELECT status, last_error FROM outbox WHERE id = ?", [row_id]).fetchone()


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
    for attempt in range(8):
        bot.store.db.execute("UPDATE outbox SET next_attempt_at = 0 WHERE id = ?", [row])
        notifier = FakeNotifier()
        notifier.errors = [ConnectionError("network down")]
        await Dispatcher(bot.outbox, [notifier], Limiter({})).deliver(patience=0.0)
    status, error = status_of(bot, row)
    assert status == "dead" and "gave up after 8 attempts" in error


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
