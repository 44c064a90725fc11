"""Groups and isolation: who may share, unshare, snooze, change or read which position."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.lending.models import ChatRef
from tests.conftest import actor, group_actor

ALICE, BOB = actor("alice", "telegram"), actor("bob", "telegram")
ALICE_IN_G, BOB_IN_G = group_actor("alice", "-100"), group_actor("bob", "-100")
G = ChatRef("telegram", "-100", True)

pytestmark = pytest.mark.both_engines  # the outbox and the alert state, on SQLite and on PostgreSQL


async def run(bot, who, text):
    return await bot.assistant.handle(who, text)


async def setup_alice(bot):
    assert not (await run(bot, ALICE, "/add 10 ETH borrow 15000 USDC on aave-v3")).error
    assert not (await run(bot, ALICE_IN_G, "/watch 1")).error


async def test_only_your_own_positions_can_be_shared(bot):
    await setup_alice(bot)
    reply = await run(bot, BOB_IN_G, "/watch 1")  # bob has no #1; alice's #1 is not his to share
    assert reply.error and "only your own" in reply.title.lower()
    assert len(bot.store.watches_in(G)) == 1


async def test_a_stranger_cannot_unwatch_or_snooze_but_an_admin_can_unwatch(bot):
    await setup_alice(bot)
    assert (await run(bot, BOB_IN_G, "/unwatch W1")).error
    assert (await run(bot, BOB_IN_G, "/snooze W1 1h")).error
    assert (await run(bot, BOB_IN_G, "/alerts W1 off")).error
    position = bot.store.position(ALICE.user, 1)
    assert bot.store.alert_settings(position)["snoozed_until"] == 0.0
    bot.admins.grant(G, BOB.user)
    assert (await run(bot, BOB_IN_G, "/snooze W1 1h")).error  # an admin may unshare, not silence alice
    assert not (await run(bot, BOB_IN_G, "/unwatch W1")).error
    assert bot.store.watches_in(G) == []


async def test_the_owner_can_snooze_from_the_group(bot):
    await setup_alice(bot)
    reply = await run(bot, ALICE_IN_G, "/snooze W1 1h")
    assert not reply.error and "Snoozed W1" in reply.title


async def test_a_group_sees_only_what_was_shared(bot):
    await setup_alice(bot)
    await run(bot, ALICE, "/add 1 BTC borrow 20000 USDC on aave-v3")  # alice's #2, not shared
    assert not (await run(bot, BOB_IN_G, "/health W1")).error
    assert (await run(bot, BOB_IN_G, "/health W2")).error
    assert (await run(bot, BOB_IN_G, "/health 2")).error  # plain ids in a group are the group's own
    other_group = group_actor("bob", "-999")
    assert (await run(bot, other_group, "/health W1")).error
    assert (await run(bot, BOB, "/health 1")).error  # in private, #1 means bob's own
    watching = await run(bot, BOB_IN_G, "/watching")
    assert "W1" in watching.sections[0].lines[0].label and "alice's #1" in watching.sections[0].lines[0].value


async def test_group_positions_are_changed_by_admins_checked_at_the_moment(bot):
    carol = group_actor("carol", "-100")
    assert (await run(bot, carol, "/add 10 ETH on aave-v3")).error
    bot.admins.grant(G, carol.user)
    assert not (await run(bot, carol, "/add 10 ETH borrow 1000 USDC on aave-v3 as treasury")).error
    assert not (await run(bot, BOB_IN_G, "/health 1")).error  # members read the group's own
    assert (await run(bot, BOB_IN_G, "/deposit 1 1 ETH")).error
    assert not (await run(bot, carol, "/deposit 1 1 ETH")).error
    bot.admins.revoke(G, carol.user)
    assert (await run(bot, carol, "/remove 1 yes")).error  # no longer an admin: refused now
    assert bot.store.positions(bot.assistant._owner(carol))


async def test_a_group_owned_position_follows_a_supergroup_migration(bot):
    carol = group_actor("carol", "-100")
    bot.admins.grant(G, carol.user)
    await run(bot, carol, "/add 10 ETH borrow 1000 USDC on aave-v3")
    await setup_alice(bot)
    new = bot.outbox.move_destination(G, "-1009")
    moved = group_actor("carol", "-1009")
    bot.admins.grant(new, carol.user)
    assert not (await run(bot, moved, "/health 1")).error
    assert len(bot.store.watches_in(new)) == 1


COMMANDS = ["/health {n}", "/health W{n}", "/watching", "/deposit {n} 1 ETH", "/withdraw {n} 1 ETH", "/borrow {n} 1 USDC", "/repay {n} 1 USDC",
            "/remove {n} yes", "/capacity {n}", "/whatif {n} ETH -10%", "/alerts {n} off", "/alerts {n} warn 3 critical 2",
            "/snooze {n} 2h", "/snooze all 1h", "/watch {n}", "/unwatch {n}", "/unwatch W{n}", "/forget yes", "/alerts off",
            "/export", "/positions"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(COMMANDS), st.integers(1, 3), st.booleans()), max_size=25))
def test_no_sequence_of_commands_lets_bob_touch_alices_position(bot, steps):
    async def scenario():
        if not bot.store.positions(ALICE.user):
            await setup_alice(bot)
        position = bot.store.position(ALICE.user, 1)
        before = (position, bot.store.alert_settings(position), bot.store.alerts_enabled(ALICE.user),
                  [w[0] for w in bot.store.watches_in(G)])
        for template, n, in_group in steps:
            reply = await run(bot, BOB_IN_G if in_group else BOB, template.format(n=n))
            for section in reply.sections:  # bob never reads alice's amounts, except what she shared
                for line in section.lines:
                    assert "15,000 USDC" not in line.value or in_group and template.startswith("/health W")
        after = (bot.store.position(ALICE.user, 1), bot.store.alert_settings(position), bot.store.alerts_enabled(ALICE.user),
                 [w[0] for w in bot.store.watches_in(G)])
        assert after == before

    asyncio.run(scenario())
