"""Command rate limits: bursts pass, floods get one answer and then silence, and buckets refill with time."""

from __future__ import annotations

from core.chat.ratelimit import MAX_TRACKED, CommandLimiter
from core.lending.models import Actor, ChatRef, Owner
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


def test_users_do_not_share_a_bucket_and_a_group_shares_its_budget_fairly():
    clock = FakeClock()
    limiter = CommandLimiter(clock, per_user=30, per_chat=60)
    flooders, admin = [user(f"u{i}", group="-100") for i in range(2)], user("admin", group="-100")
    taken = [sum(limiter.check(f).allowed for _ in range(50)) for f in flooders]
    assert taken == [10, 10]  # each is held by their own limit (and their share of the group's)
    assert limiter.check(admin).allowed  # a member within their own limit is still answered
    assert limiter.check(user("u0")).allowed is False  # u0's own bucket is spent everywhere
    # over a minute the group as a whole stays near its budget: three active members, 20 a minute each
    answered = 0
    for _ in range(60):
        clock.advance(1)
        answered += sum(limiter.check(m).allowed for m in (*flooders, admin) for _ in range(5))
    assert 55 <= answered <= 60 + 3 * 7  # a minute of the budget, plus at most a burst each


def test_a_member_idle_for_five_minutes_gives_back_their_share():
    clock = FakeClock()
    limiter = CommandLimiter(clock, per_user=1000, per_chat=60)
    a, b = user("a", group="-1"), user("b", group="-1")
    limiter.check(a), limiter.check(b)
    clock.advance(301)
    limiter.check(a)
    assert limiter._members(a, clock.time()) == 1


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
