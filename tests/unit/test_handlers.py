"""Command handlers are registered per command and receive an explicit context: one can run alone on fakes."""

from __future__ import annotations

import pytest

from core.chat import alert_commands, position_commands
from core.chat.assistant import Assistant, NoEvents
from core.chat.commands import COMMANDS
from core.chat.context import Context
from core.chat.handlers import HANDLERS
from core.ports import NoGroups
from tests.conftest import actor
from tests.fakes import VECTOR_PRICES, FakeClock, FakePriceBook


def test_every_command_has_exactly_one_handler():
    assert Assistant  # importing the Assistant registers every handler module
    assert set(HANDLERS) == set(COMMANDS)


async def test_one_handler_runs_alone_on_a_context_of_fakes(store, registry, presets):
    clock = FakeClock()
    ctx = Context(store, FakePriceBook(VECTOR_PRICES, clock), registry, presets, clock, NoEvents(), NoGroups())
    alice = actor("alice")
    added = await position_commands._cmd_add(ctx, alice, ctx.parser.parse("/add 10 ETH borrow 15000 USDC on aave-v3"))
    assert added.title.startswith("Added #1")
    snoozed = await alert_commands._cmd_snooze(ctx, alice, ctx.parser.parse("/snooze 1 2h"))
    assert snoozed.title.startswith("Snoozed #1 until")
    assert store.alert_settings(store.position(alice.user, 1))["snoozed_until"] == clock.time() + 7200


@pytest.mark.parametrize("command, says", [("/carry 1", "so no carry can be worked out."), ("/chart 1", "so no chart."),
                                           ("/risk 1", "so no estimate.")])
async def test_a_missing_price_is_one_line_for_every_command_that_values_a_loan(assistant, prices, command, says):
    alice = actor("alice")
    await assistant.handle(alice, "/add 10 ETH borrow 15000 USDC on aave-v3")
    del prices.prices["ETH"]  # the price source lost ETH
    reply = await assistant.handle(alice, command)
    assert reply.error and reply.title == f"No price for ETH right now, {says}" and not reply.attachment
