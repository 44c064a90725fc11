"""The Discord adapter end to end: the real discord.py, the composition root and the core, against loopback emulators."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import discord
import pytest

from bot.app import PlatformAdmins, build
from bot.discord_adapter import UNAUTHORIZED_PAUSE, DiscordAdapter, DiscordAdmins, DiscordNotifier
from core.chat.commands import COMMANDS
from core.config import Settings
from core.lending.models import ChatRef, Owner
from tests.emulators.discord import MANAGE_GUILD, DiscordEmulator
from tests.emulators.telegram import TelegramEmulator

GUILD, CHANNEL = 5001, 5002
OWNER, ALICE, BOB, CAROL = 7001, 7002, 7003, 7004


@dataclass
class World:
    emu: DiscordEmulator
    app: object
    adapter: DiscordAdapter
    prices: object

    async def slash(self, user: int, name: str, guild: bool = True, **options) -> dict:
        """Run a slash command; return the bot's answer to it."""
        wire = [{"name": k, "value": v} for k, v in options.items()]
        where = {"guild_id": GUILD, "channel_id": CHANNEL} if guild else {}
        iid = await self.emu.slash(user, name, wire, **where)
        return await self.emu.wait_for(lambda r: r.get("interaction_id") == iid and r.get("type") in (4, 7)
                                       or r.get("interaction_id") == iid and r.get("method") == "POST")

    async def tick(self) -> None:
        await self.app.feed.tick()
        await self.app.monitor.tick()
        await self.app.dispatcher.deliver(patience=3.0)


def embed_text(record: dict) -> str:
    data = record.get("data") or record.get("payload") or record
    parts = []
    for e in data.get("embeds") or []:
        parts += [e.get("title", ""), e.get("description", "")]
        parts += [f"{f['name']} {f['value']}" for f in e.get("fields", [])]
        parts.append((e.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


def custom_ids(record: dict) -> list[str]:
    data = record.get("data") or record.get("payload") or record
    return [c["custom_id"] for row in data.get("components") or [] for c in row.get("components", [])]


def by_label(record: dict) -> dict[str, str]:
    """The buttons of a message: label -> custom id, each an opaque token the bot issued."""
    data = record.get("data") or record.get("payload") or record
    found = {c["label"]: c["custom_id"] for row in data.get("components") or [] for c in row.get("components", [])}
    assert all(re.fullmatch(r"btn:[A-Za-z0-9_-]{22}", v) for v in found.values()), found  # no command in the clear
    return found


@pytest.fixture
async def world(tmp_path, price_apis, monkeypatch):
    emu = DiscordEmulator()
    emu.add_guild(GUILD, "Borrowers", OWNER)
    emu.add_channel(GUILD, CHANNEL, "alerts")
    for user, name, perms in ((ALICE, "alice", 0), (BOB, "bob", 0), (CAROL, "carol", MANAGE_GUILD)):
        emu.add_member(GUILD, user, name, permissions=perms)
    await emu.start()
    emu.patch(monkeypatch)
    settings = Settings.from_mapping({"DATABASE_PATH": str(tmp_path / "bot.db"), **price_apis.env()})
    async with build(settings) as app:
        admins = PlatformAdmins()
        admins.by_platform["discord"] = DiscordAdmins()
        app.assistant.admins = admins
        adapter = DiscordAdapter(app.assistant)
        app.dispatcher.notifiers.append(DiscordNotifier(adapter.client, app.assistant.buttons))
        await adapter.start(emu.token, timeout=10)
        try:
            yield World(emu, app, adapter, price_apis.world)
        finally:
            await adapter.stop()
    await emu.close()


async def test_commands_are_synced_typed_and_described(world):
    synced = {c["name"]: c for c in world.emu.commands["global"]}
    assert set(synced) == set(COMMANDS)
    # discord.py fills a missing description with "…", so a truthy check proves nothing: look for real words.
    assert [c["name"] for c in synced.values() if not c["description"].strip(" .…")] == []
    add = {o["name"]: o for o in synced["add"]["options"]}
    assert add["amount"]["type"] == 3 and add["amount"]["max_length"] == 32  # text: the core parses it exactly
    assert add["asset"].get("autocomplete") and add["lender"].get("autocomplete")
    undescribed = [f"{c['name']}.{o['name']}" for c in synced.values() for o in c.get("options", [])
                   if not o.get("description", "").strip(" .…")]
    assert undescribed == []


async def test_private_answers_in_a_guild_are_ephemeral(world):
    reply = await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    assert reply["data"]["flags"] & 64 and "Added #1" in embed_text(reply)
    reply = await world.slash(ALICE, "health", position=1)
    assert reply["data"]["flags"] & 64 and "1.66" in embed_text(reply) and "$1,807.23" in embed_text(reply)
    reply = await world.slash(BOB, "health", position=1)
    assert "You have no position #1" in embed_text(reply)


async def test_amounts_are_stored_exactly_as_typed(world):
    reply = await world.slash(ALICE, "add", amount="0.12345678", asset="BTC", lender="aave-v3",
                              borrow_amount="1 000.000001", borrow_asset="USDC")
    assert "Added #1" in embed_text(reply)
    reply = await world.slash(ALICE, "add", amount="0.0000004", asset="ETH", lender="aave-v3")
    assert "Added #2" in embed_text(reply)
    alice = Owner("discord", "user", str(ALICE))
    first, second = world.app.store.position(alice, 1), world.app.store.position(alice, 2)
    assert [(leg.asset, leg.amount) for leg in first.collateral] == [("BTC", Decimal("0.12345678"))]
    assert [(leg.asset, leg.amount) for leg in first.debt] == [("USDC", Decimal("1000.000001"))]
    assert second.collateral[0].amount == Decimal("0.0000004")  # a float option made this "0"
    reply = await world.slash(ALICE, "add", amount="1e5", asset="ETH", lender="aave-v3")  # the core's own check and usage
    assert "1e5" in embed_text(reply) and "/add" in embed_text(reply) and world.app.store.position(alice, 3) is None
    reply = await world.slash(ALICE, "il", pair="ETH-USDC", start_price="3000.123456789", end_price="4500")
    assert "$3,000.12" in embed_text(reply)


async def test_answers_about_the_callers_own_holdings_or_deliveries_are_private(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3")
    held = await world.slash(ALICE, "price")  # no assets: the ones alice holds, which the channel must not learn
    assert held["data"]["flags"] & 64 and "ETH" in embed_text(held)
    named = await world.slash(ALICE, "price", assets="BTC")
    assert not named["data"].get("flags", 0) & 64 and "BTC" in embed_text(named)
    status = await world.slash(ALICE, "status")
    assert status["data"]["flags"] & 64


async def test_rate_without_an_apr_shows_it_and_never_deletes_it(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    position = world.app.store.position(Owner("discord", "user", str(ALICE)), 1)
    reply = await world.slash(ALICE, "rate", position=1, apr="5.2%")
    assert "borrows at 5.20% APR" in embed_text(reply) and world.app.store.borrow_apr(position) == pytest.approx(0.052)
    reply = await world.slash(ALICE, "rate", position=1)
    assert "borrows at 5.20% APR" in embed_text(reply) and "set with /rate 1" in embed_text(reply)
    assert world.app.store.borrow_apr(position) == pytest.approx(0.052)
    reply = await world.slash(ALICE, "rate", position=1, apr="2000%")
    assert "between 0% and 1000%" in embed_text(reply) and world.app.store.borrow_apr(position) == pytest.approx(0.052)
    reply = await world.slash(ALICE, "rate", position=1, apr="off")
    assert "no borrow rate" in embed_text(reply) and world.app.store.borrow_apr(position) is None


async def test_autocomplete_offers_assets_lenders_and_your_own_ids(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", label="main")
    iid = await world.emu.autocomplete(ALICE, "health", [{"name": "position", "value": "", "focused": True}],
                                       guild_id=GUILD, channel_id=CHANNEL)
    choices = (await world.emu.wait_for(lambda r: r.get("interaction_id") == iid))["data"]["choices"]
    assert choices == [{"name": "#1 main: aave-v3", "value": 1}]
    iid = await world.emu.autocomplete(BOB, "health", [{"name": "position", "value": "", "focused": True}],
                                       guild_id=GUILD, channel_id=CHANNEL)
    assert (await world.emu.wait_for(lambda r: r.get("interaction_id") == iid))["data"]["choices"] == []
    iid = await world.emu.autocomplete(ALICE, "add", [{"name": "amount", "value": "1"}, {"name": "lender", "value": "x"},
                                                      {"name": "asset", "value": "wst", "focused": True}],
                                       guild_id=GUILD, channel_id=CHANNEL)
    assert [c["value"] for c in (await world.emu.wait_for(lambda r: r.get("interaction_id") == iid))["data"]["choices"]] == ["wstETH"]


async def test_autocomplete_offers_the_groups_ids_once_server_is_chosen(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", label="mine")
    await world.slash(CAROL, "add", amount="100", asset="ETH", lender="aave-v3", label="treasury", server=True)

    async def offered(options):
        iid = await world.emu.autocomplete(ALICE, "health", options, guild_id=GUILD, channel_id=CHANNEL)
        return (await world.emu.wait_for(lambda r: r.get("interaction_id") == iid))["data"]["choices"]

    focused = {"name": "position", "value": "", "focused": True}
    assert await offered([focused]) == [{"name": "#1 mine: aave-v3", "value": 1}]
    assert await offered([{"name": "server", "value": True}, focused]) == [{"name": "#1 treasury: aave-v3", "value": 1}]


async def test_watch_a_warning_in_the_channel_and_who_may_snooze_it(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    reply = await world.slash(ALICE, "watch", position=1)
    assert not reply["data"].get("flags", 0) & 64 and "W1: your #1" in embed_text(reply)
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    post = await world.emu.wait_for(lambda r: r.get("channel_id") == CHANNEL and "DANGER" in embed_text(r))
    assert "W1 (alice's #1)" in embed_text(post)
    assert list(by_label(post)) == ["Details", "Snooze 1h", "Snooze 24h"]
    assert (post.get("payload") or post)["embeds"][0]["color"] == 0xE67E22  # danger orange
    await world.emu.wait_for(lambda r: r.get("channel_id") == world.emu.dm_channels.get(ALICE) and "DANGER" in embed_text(r))

    position = world.app.store.position(Owner("discord", "user", str(ALICE)), 1)
    iid = await world.emu.click(BOB, post["id"], by_label(post)["Snooze 1h"], guild_id=GUILD, channel_id=CHANNEL)
    answer = await world.emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert "Only the owner of W1" in embed_text(answer) and answer["data"]["flags"] & 64
    assert world.app.store.alert_settings(position)["snoozed_until"] == 0.0
    iid = await world.emu.click(ALICE, post["id"], by_label(post)["Snooze 1h"], guild_id=GUILD, channel_id=CHANNEL)
    answer = await world.emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert "Snoozed W1 until" in embed_text(answer)
    assert world.app.store.alert_settings(position)["snoozed_until"] > 0


async def shared_then_refused(world) -> None:
    """Alice shares her position into the channel; its first warning there meets Discord's 50013."""
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    await world.slash(ALICE, "watch", position=1)
    await world.tick()
    world.emu.fail_next_message(403, 50013, "Missing Permissions", channel_id=CHANNEL)
    world.prices.prices["ETH"] = 2000.0
    await world.tick()


async def test_a_channel_we_may_not_post_in_is_disabled_and_the_owner_told(world):
    await shared_then_refused(world)
    assert world.app.outbox.disabled_destinations() == [(ChatRef("discord", str(CHANNEL), True).key, "Discord 50013: Missing Permissions")]
    told = await world.emu.wait_for(lambda r: r.get("channel_id") == world.emu.dm_channels.get(ALICE) and "DELIVERY STOPPED" in embed_text(r))
    assert "/watch 1" in embed_text(told)


async def test_a_slow_button_is_deferred_then_answered(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    await world.slash(ALICE, "watch", position=1)
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    post = await world.emu.wait_for(lambda r: r.get("channel_id") == CHANNEL and "DANGER" in embed_text(r))
    # Details asks the price sources again and they take longer than Discord waits for an answer (scaled down).
    world.app.feed.refresh_after = 0.0
    for source in (world.prices.coingecko, world.prices.binance, world.prices.coinbase):
        source.fault, source.delay = "slow", 1.5
    world.emu.response_deadline, world.adapter.defer_after = 1.0, 0.2
    iid = await world.emu.click(BOB, post["id"], by_label(post)["Details"], guild_id=GUILD, channel_id=CHANNEL)
    answer = await world.emu.wait_for(lambda r: r.get("interaction_id") == iid and r.get("method") == "POST")
    assert world.emu.response_to(iid)["type"] == 5 and world.emu.response_to(iid)["data"]["flags"] & 64
    assert "W1" in embed_text(answer) and "Health" in embed_text(answer)


async def test_a_deferred_confirmation_still_replaces_the_question(world, monkeypatch):
    await world.slash(ALICE, "add", amount="1", asset="ETH", lender="aave-v3")
    ask = await world.slash(ALICE, "remove", position=1)
    handle = world.app.assistant.handle

    async def slow_handle(actor, text):
        await asyncio.sleep(0.3)  # a removal needs no price, so only a slow core (a busy database) can make it late
        return await handle(actor, text)

    monkeypatch.setattr(world.app.assistant, "handle", slow_handle)
    world.adapter.defer_after = 0.1
    iid = await world.emu.click(ALICE, ask["message_id"], by_label(ask)["Remove it"], guild_id=GUILD, channel_id=CHANNEL)
    edit = await world.emu.wait_for(lambda r: r.get("interaction_id") == iid and r.get("method") == "PATCH")
    assert world.emu.response_to(iid)["type"] == 6 and edit["message_id"] == ask["message_id"]
    assert "Removed #1" in embed_text(edit) and world.emu.messages[ask["message_id"]]["components"] == []


async def test_a_revoked_token_pauses_discord_delivery_and_drops_nothing(world, caplog):
    for user in (ALICE, BOB):
        await world.slash(user, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    await world.slash(ALICE, "watch", position=1)
    await world.tick()
    world.emu.token_revoked = True  # the token was reset in the developer portal
    world.prices.prices["ETH"] = 2000.0
    with caplog.at_level(logging.ERROR, logger="bot.discord_adapter"):
        await world.tick()  # three warnings due: alice's DM, bob's DM, the channel
        refused = [r for r in world.emu.requests if r["status"] == 401]
        for _ in range(3):
            await world.app.dispatcher.deliver(patience=0.5)
    assert refused  # the first 401 pauses every Discord send (one more may already be on the wire)
    assert world.app.dispatcher.limiter.platform_wait("discord", time.monotonic()) > UNAUTHORIZED_PAUSE - 60
    assert [r for r in world.emu.requests if r["status"] == 401] == refused  # nothing more while paused
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "401" in errors[0]  # said once, not per message
    counts = world.app.outbox.counts()
    assert counts["dead"] == 0 and counts["pending"] == 3 and world.app.outbox.disabled_destinations() == []
    later = world.app.outbox.pending(time.time() + UNAUTHORIZED_PAUSE + 1, {"discord"})
    assert len(later) == 3  # each warning goes once Discord accepts the bot again


async def test_server_positions_need_manage_server_checked_in_code(world):
    reply = await world.slash(BOB, "add", amount="100", asset="ETH", lender="aave-v3", server=True)
    assert "Only this group's admins" in embed_text(reply)
    reply = await world.slash(CAROL, "add", amount="100", asset="ETH", lender="aave-v3", label="treasury", server=True)
    assert "Added #1 (treasury)" in embed_text(reply)
    reply = await world.slash(BOB, "positions", server=True)
    assert "treasury" in embed_text(reply)  # members read the channel's own
    reply = await world.slash(BOB, "remove", position=1, server=True)
    assert "Only this group's admins" in embed_text(reply)


async def test_confirmation_buttons(world):
    await world.slash(ALICE, "add", amount="1", asset="ETH", lender="aave-v3")
    ask = await world.slash(ALICE, "remove", position=1, guild=False)
    assert list(by_label(ask)) == ["Remove it", "Keep it"]
    message = ask.get("message_id") or ask.get("message", {}).get("id")
    iid = await world.emu.click(ALICE, message, by_label(ask)["Remove it"])
    done = await world.emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert done["type"] == 7 and "Removed #1" in embed_text(done)
    assert world.app.store.positions(Owner("discord", "user", str(ALICE))) == []


async def click(world: World, user: int, message_id: int, custom_id: str) -> dict:
    """Press a button in the guild channel; return the bot's answer to the press."""
    iid = await world.emu.click(user, message_id, custom_id, guild_id=GUILD, channel_id=CHANNEL)
    return await world.emu.wait_for(lambda r: r.get("interaction_id") == iid and r.get("type") in (4, 7)
                                    or r.get("interaction_id") == iid and r.get("method") in ("POST", "PATCH"))


async def test_a_server_confirmation_removes_the_channels_position_not_the_admins_own(world):
    carol, server = Owner("discord", "user", str(CAROL)), Owner("discord", "group", str(CHANNEL))
    await world.slash(CAROL, "add", amount="1", asset="ETH", lender="aave-v3", label="mine")
    await world.slash(CAROL, "add", amount="100", asset="ETH", lender="aave-v3", label="treasury", server=True)
    await world.slash(CAROL, "add", amount="50", asset="ETH", lender="aave-v3", label="reserve", server=True)

    ask = await world.slash(CAROL, "remove", position=1, server=True)
    assert "treasury" in embed_text(ask) and list(by_label(ask)) == ["Remove it", "Keep it"]
    refused = await click(world, BOB, ask["message_id"], by_label(ask)["Remove it"])  # the press is checked again
    assert "This button is for the person who asked" in embed_text(refused) and len(world.app.store.positions(server)) == 2
    done = await click(world, CAROL, ask["message_id"], by_label(ask)["Remove it"])
    assert done["type"] == 7 and "Removed #1 (treasury)" in embed_text(done)
    assert [p.label for p in world.app.store.positions(server)] == ["reserve"]
    assert [p.label for p in world.app.store.positions(carol)] == ["mine"]

    ask = await world.slash(CAROL, "forget", server=True)
    assert list(by_label(ask)) == ["Delete everything", "Keep it"]
    await click(world, CAROL, ask["message_id"], by_label(ask)["Delete everything"])
    assert world.app.store.positions(server) == [] and [p.label for p in world.app.store.positions(carol)] == ["mine"]


async def test_snooze_on_a_channels_own_warning_snoozes_the_channels_position(world):
    carol, server = Owner("discord", "user", str(CAROL)), Owner("discord", "group", str(CHANNEL))
    await world.slash(CAROL, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    await world.slash(CAROL, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC",
                      label="treasury", server=True)
    await world.tick()
    world.prices.prices["ETH"] = 2000.0
    await world.tick()
    post = await world.emu.wait_for(lambda r: r.get("channel_id") == CHANNEL and "DANGER" in embed_text(r))
    assert list(by_label(post)) == ["Details", "Snooze 1h", "Snooze 24h"]
    dm = await world.emu.wait_for(lambda r: r.get("channel_id") == world.emu.dm_channels.get(CAROL) and "DANGER" in embed_text(r))
    assert by_label(dm)["Snooze 1h"] != by_label(post)["Snooze 1h"]

    treasury, mine = world.app.store.position(server, 1), world.app.store.position(carol, 1)
    details = await click(world, BOB, post["id"], by_label(post)["Details"])  # members read the channel's own
    assert "treasury" in embed_text(details) and details["data"]["flags"] & 64
    refused = await click(world, BOB, post["id"], by_label(post)["Snooze 1h"])
    assert "Only this group's admins" in embed_text(refused)
    assert world.app.store.alert_settings(treasury)["snoozed_until"] == 0.0
    answer = await click(world, CAROL, post["id"], by_label(post)["Snooze 1h"])
    assert "Snoozed #1 (treasury) until" in embed_text(answer)
    assert world.app.store.alert_settings(treasury)["snoozed_until"] > 0
    assert world.app.store.alert_settings(mine)["snoozed_until"] == 0.0


async def test_a_button_with_a_command_in_its_id_is_never_run(world):
    """Ids like 'cmd:g:/remove 1 yes' came from older versions, and anyone can forge one: answered, never run."""
    await world.slash(CAROL, "add", amount="100", asset="ETH", lender="aave-v3", label="treasury", server=True)
    forged = discord.ui.View(timeout=None)
    forged.add_item(discord.ui.Button(label="Remove", custom_id="cmd:g:/remove 1 yes"))
    sent = await world.adapter.client.get_channel(CHANNEL).send("old warning", view=forged)
    answer = await click(world, CAROL, sent.id, "cmd:g:/remove 1 yes")
    assert "expired" in embed_text(answer) and answer["data"]["flags"] & 64
    assert world.app.store.position(Owner("discord", "group", str(CHANNEL)), 1) is not None


async def test_telegram_and_discord_in_one_collateral_bot_run(tmp_path, price_apis):
    discord_emu = DiscordEmulator()
    discord_emu.add_guild(GUILD, "Borrowers", OWNER)
    discord_emu.add_channel(GUILD, CHANNEL, "alerts")
    discord_emu.add_member(GUILD, ALICE, "alice")
    await discord_emu.start()
    telegram_emu = TelegramEmulator()
    await telegram_emu.start()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(DATABASE_PATH=str(tmp_path / "bot.db"), NO_PROXY="127.0.0.1,localhost", **price_apis.env(),
               TELEGRAM_BOT_TOKEN=telegram_emu.token, TELEGRAM_API_BASE_URL=telegram_emu.root,
               # a bare root, as the README calls it: the bot adds /api/v10 itself
               DISCORD_BOT_TOKEN=discord_emu.token, DISCORD_API_BASE_URL=discord_emu.api_base.removesuffix("/api/v10"),
               DISCORD_GATEWAY_URL=discord_emu.gateway_url)
    proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "collateral-bot"), "run", env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await asyncio.wait_for(discord_emu.identified.wait(), 20)
        for _ in range(100):  # the command tree is synced in setup_hook, before IDENTIFY completes
            if discord_emu.commands.get("global"):
                break
            await asyncio.sleep(0.1)
        iid = await discord_emu.slash(ALICE, "add", [{"name": "amount", "value": "10"}, {"name": "asset", "value": "ETH"},
                                                     {"name": "lender", "value": "aave-v3"}], guild_id=GUILD, channel_id=CHANNEL)
        reply = await discord_emu.wait_for(lambda r: r.get("interaction_id") == iid, timeout=10)
        assert "Added #1" in embed_text(reply)
        alice = telegram_emu.user(1, "Alice")
        telegram_emu.send_text(telegram_emu.private_chat(alice), alice, "/add 1 BTC on aave-v3")
        await telegram_emu.wait_for(lambda m: "Added #1" in m["text"], timeout=10)  # one core, each user numbered alone
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        await telegram_emu.close()
        await discord_emu.close()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert discord_emu.token not in (out + err).decode() and telegram_emu.token not in (out + err).decode()


async def test_a_chart_is_a_file_and_yield_is_public(world):
    await world.slash(ALICE, "add", amount="10", asset="ETH", lender="aave-v3", borrow_amount="15000", borrow_asset="USDC")
    reply = await world.slash(ALICE, "chart", position=1, whatif=True)
    [picture] = reply["files"]
    assert picture["filename"] == "chart-1-whatif.png" and picture["data"][:4] == b"\x89PNG"
    reply = await world.slash(BOB, "yield", asset="USDC")
    assert not reply["data"].get("flags", 0) & 64 and "Where USDC earns" in embed_text(reply)


async def test_a_channel_that_refused_heals_on_a_permission_update_and_dms_on_the_next_interaction(world):
    await shared_then_refused(world)
    dm_channel = world.emu.dm_channels[ALICE]
    stopped = await world.emu.wait_for(lambda r: r.get("channel_id") == dm_channel and "DELIVERY STOPPED" in embed_text(r))
    assert "#alerts in Borrowers" in embed_text(stopped) and "discord:" not in embed_text(stopped)  # names as users see them

    await world.emu.role_updated(GUILD)  # an admin gives the bot its permissions back
    await asyncio.sleep(0.3)
    await world.app.dispatcher.deliver(patience=1.0)
    await world.emu.wait_for(lambda r: r.get("channel_id") == dm_channel and "DELIVERY RESTARTED" in embed_text(r))
    assert world.app.outbox.disabled_destinations() == []
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    await world.emu.wait_for(lambda r: r.get("channel_id") == CHANNEL and "LIQUIDATABLE" in embed_text(r))

    # alice closes her DMs: the refusal stops her DM, her next interaction opens it again and tells her, privately
    world.emu.fail_next_message(403, 50007, "Cannot send messages to this user", channel_id=dm_channel)
    world.prices.prices["ETH"] = 2400.0
    await world.tick()
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    assert (f"discord:{ALICE}", "Discord 50007: Cannot send messages to this user") in world.app.outbox.disabled_destinations()
    reply = await world.slash(ALICE, "positions")
    note = await world.emu.wait_for(lambda r: r.get("interaction_id") == reply["interaction_id"]
                                    and "direct messages again" in embed_text(r))
    assert note["data"]["flags"] & 64 and "50007" in embed_text(note)
    assert world.app.outbox.disabled_destinations() == []

    def dm_rows() -> list[tuple[int, str]]:
        return world.app.store.db.execute("SELECT id, status FROM outbox WHERE chat_key = ?", [f"discord:{ALICE}"]).fetchall()

    before = dm_rows()
    world.prices.prices["ETH"] = 2400.0
    await world.tick()
    world.prices.prices["ETH"] = 1700.0
    await world.tick()
    [(_, status)] = dm_rows()[len(before):]
    assert status in ("pending", "sent")  # queued for her DMs again (sent once Discord's 5-per-5-s DM window allows)
