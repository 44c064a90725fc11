"""Random and hostile text through the grammar and the service: no exception escapes, nothing is written."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render import plain_text
from core.chat.grammar import COMMANDS, Parser
from core.errors import CoreError
from core.storage.fleets import Fleets
from tests.conftest import actor

WORDS = list(COMMANDS) + ["add", "loan", "pledge", "whatif", "halving", "TH/s", "J/TH", "power", "pool", "redemption", "ETH", "eth", "BTC", "USDC", "borrow", "on", "as", "aave-v3", "maker", "morpho", "custom",
                          "ltv", "lt", "lltv", "hf", "cr", "yes", "ALL", "#1", "1", "-30%", "+10%", "15k", "1,000",
                          "NaN", "inf", "1e9", "0", "-1", "١", "ｅｔｈ", "%", "#", "@", "/", "\u200b", "\x00", "..."]

commandish = st.builds(
    lambda name, words: "/" + name + " " + " ".join(words),
    st.sampled_from(list(COMMANDS) + ["x", "", "ADD"]),
    st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200) | commandish)
def test_parser_only_raises_core_errors(registry, text):
    with contextlib.suppress(CoreError):
        Parser(registry).parse(text)


WRITES = ("/add", "/deposit", "/borrow", "/remove", "/forget", "/withdraw", "/repay")


def writes(text: str) -> bool:
    """The commands that change something when their input is valid: positions, the warning switch, fleets."""
    words = text.split()
    return (text.startswith(WRITES) or words[:2] in (["/alerts", "on"], ["/alerts", "off"])
            or (words[:1] == ["/mining"] and bool({"add", "loan", "pledge", "remove"} & set(words[1:3]))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=commandish.filter(lambda t: not writes(t)))
def test_read_only_commands_never_write_or_crash(assistant, store, text):
    counts = store.counts()
    reply = asyncio.run(assistant.handle(actor("fuzz"), text))
    assert "Traceback" not in plain_text(reply)
    assert "went wrong on my side" not in reply.title  # an internal error is a bug, even when it is caught
    assert store.counts() == counts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=commandish)
def test_rejected_commands_write_nothing(assistant, store, text):
    counts = store.counts()
    fleets = len(Fleets(store).all())
    reply = asyncio.run(assistant.handle(actor("fuzz"), text))
    assert "Traceback" not in plain_text(reply)
    assert "went wrong on my side" not in reply.title
    if reply.error:
        assert store.counts() == counts
        assert len(Fleets(store).all()) == fleets
