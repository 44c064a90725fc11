"""Command rate limits: bursts pass, floods get one answer and then silence, and buckets refill with time."""

from __future__ import annotations

from core.models import Actor, ChatRef, Owner
from core.ratelimit import MAX_TRACKED, CommandLimiter
from tests.fakes import FakeClock


def user(name: str, group: str | None = None) -> Actor:
    chat = ChatRef("telegram", group, True) if group else ChatRef("telegram", name)
    return Actor(Owner("telegram", "user", name), chat, name)


def test_a_burst_passes_then_one_refusal_is_told_and_the_rest_are_quiet():
    clock = FakeClock()
    limiter = CommandLimiter(clock, per_user=30, per_chat=0)
    alice = user("alice")
    assert all(limiter.check(alice).allowed for _ in range(10))  # a third of a minute's worth at once
    first, second = limiter.check(alice), limiter.check(alice)
    assert not first.allowed and first.tell and first.wait == 2
    assert not second.allowed and not second.tell
    clock.advance(2)  # 30 a minute: one command every 2 s comes back
    assert limiter.check(alice).allowed
    assert not limiter.check(alice).allowed and limiter.check(alice).tell is False


def test_users_do_not_share_a_bucket_but_a_group_chat_does():
    clock = FakeClock()
    limiter = CommandLimiter(clock, per_user=30, per_chat=6)
    members = [user(f"u{i}", group="-100") for i in range(3)]
    assert [limiter.check(m).allowed for m in members] == [True, True, False]  # the group's burst is 2
    assert limiter.check(user("u0")).allowed  # in a private chat only the user's own bucket counts


def test_zero_turns_a_limit_off():
    limiter = CommandLimiter(FakeClock(), per_user=0, per_chat=0)
    assert all(limiter.check(user("alice", group="-1")).allowed for _ in range(1000))


def test_idle_buckets_are_forgotten_so_memory_stays_bounded():
    clock = FakeClock()
    limiter = CommandLimiter(clock, per_user=30, per_chat=0)
    for i in range(MAX_TRACKED):
        limiter.check(user(f"u{i}"))
    clock.advance(60)  # every bucket has refilled: forgetting them changes nothing
    limiter.check(user("newcomer"))
    assert len(limiter._buckets) == 1


async def test_the_assistant_answers_a_flood_once(assistant, alice):
    assistant.limiter = CommandLimiter(FakeClock(), per_user=3, per_chat=0)
    replies = [await assistant.handle(alice, "/help") for _ in range(4)]
    assert [r.error for r in replies] == [False, True, True, True]
    assert [r.silent for r in replies] == [False, False, True, True]
    assert "more commands than I take in a minute" in replies[1].title
