"""The real discord.py 2.7 against the loopback Discord emulator: log in, sync commands, answer slash commands,
autocomplete and buttons, send to channels and DMs, and meet Discord's errors (403, 404, 429)."""

from __future__ import annotations

import asyncio
import io
import time

import discord
import pytest
from discord import app_commands

from tests.emulators.discord import MANAGE_GUILD, DiscordEmulator

GUILD, CHANNEL, OTHER_CHANNEL = 5001, 5002, 5003
OWNER, ALICE, BOB = 7001, 7002, 7003
ASSETS = ["BTC", "ETH", "ETHFI", "SOL", "USDC"]


class PanelView(discord.ui.View):
    def __init__(self, clicks: list[tuple[int, int]]) -> None:
        super().__init__(timeout=60)
        self.clicks = clicks

    @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.primary)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.clicks.append((interaction.user.id, interaction.message.id))
        await interaction.response.edit_message(content=f"confirmed by {interaction.user.id}", view=None)


class Bot(discord.Client):
    """A small bot with the command shapes the real adapter uses."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.synced: dict[str, list[app_commands.AppCommand]] = {}
        self.clicks: list[tuple[int, int]] = []

        @self.tree.command(name="hello", description="Say hello")
        @app_commands.describe(name="who to greet")
        async def hello(interaction: discord.Interaction, name: str) -> None:
            perms = interaction.permissions
            await interaction.response.send_message(
                f"Hello, {name}! (from {interaction.user.id}, manage_guild={perms.manage_guild})", ephemeral=True)

        @self.tree.command(name="price", description="Price of an asset")
        async def price(interaction: discord.Interaction, asset: str, amount: float = 1.0) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send(f"{amount:g} {asset} = 123.45 USD")

        @price.autocomplete("asset")
        async def asset_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=a, value=a) for a in ASSETS if a.lower().startswith(current.lower())]

        @self.tree.command(name="panel", description="A message with a button")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Please confirm", view=PanelView(self.clicks))

    async def setup_hook(self) -> None:
        self.synced["global"] = await self.tree.sync()
        guild = discord.Object(id=GUILD)
        self.tree.copy_global_to(guild=guild)
        self.synced["guild"] = await self.tree.sync(guild=guild)


@pytest.fixture
async def emu(monkeypatch):
    emulator = DiscordEmulator()
    emulator.add_guild(GUILD, "Borrowers", OWNER)
    emulator.add_channel(GUILD, CHANNEL, "general")
    emulator.add_channel(GUILD, OTHER_CHANNEL, "alerts")
    emulator.add_member(GUILD, ALICE, "alice")
    emulator.add_member(GUILD, BOB, "bob", permissions=MANAGE_GUILD)
    await emulator.start()
    emulator.patch(monkeypatch)
    yield emulator
    await emulator.close()


@pytest.fixture
async def bot(emu):
    client = Bot()
    runner = asyncio.create_task(client.start(emu.token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({runner, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        await client.close()
        raise AssertionError(f"the bot did not get ready: {runner.exception() if runner.done() else 'timeout'}")
    assert emu.identified.is_set()
    yield client
    await client.close()
    await asyncio.wait_for(runner, 5)


async def test_round_trip_slash_command_in_a_guild(emu, bot):
    """The canary: login, sync (global + guild, ids echoed), gateway READY/GUILD_CREATE, a slash command, its ephemeral reply."""
    assert [c["name"] for c in emu.commands["global"]] == ["hello", "price", "panel"]
    assert [c["name"] for c in emu.commands[GUILD]] == ["hello", "price", "panel"]
    assert [c.id for c in bot.synced["guild"]] == [int(c["id"]) for c in emu.commands[GUILD]]
    assert bot.user.id == emu.bot_user_id and bot.application_id == emu.application_id
    assert bot.get_channel(CHANNEL).name == "general"

    iid = await emu.slash(BOB, "hello", [{"name": "name", "type": 3, "value": "Ada"}], guild_id=GUILD, channel_id=CHANNEL)
    reply = await emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert reply["type"] == 4
    assert reply["data"]["flags"] == 64
    assert reply["data"]["content"] == f"Hello, Ada! (from {BOB}, manage_guild=True)"
    assert emu.response_to(iid) is reply

    iid = await emu.slash(ALICE, "hello", [{"name": "name", "value": "Bo"}], guild_id=GUILD)
    reply = await emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert reply["data"]["content"] == f"Hello, Bo! (from {ALICE}, manage_guild=False)"


async def test_slash_command_in_a_dm_uses_the_global_command(emu, bot):
    iid = await emu.slash(ALICE, "hello", [{"name": "name", "type": 3, "value": "DM"}])
    reply = await emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert reply["data"]["content"].startswith("Hello, DM!")
    with pytest.raises(AssertionError, match="no option"):
        await emu.slash(ALICE, "hello", [{"name": "nom", "value": "x"}])
    with pytest.raises(AssertionError, match="not synced"):
        await emu.slash(ALICE, "nonexistent")


async def test_autocomplete_then_deferred_reply_and_followup(emu, bot):
    iid = await emu.autocomplete(ALICE, "price", [{"name": "asset", "type": 3, "value": "et", "focused": True}], guild_id=GUILD)
    choices = await emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert choices["type"] == 8
    assert [c["value"] for c in choices["data"]["choices"]] == ["ETH", "ETHFI"]

    iid = await emu.slash(ALICE, "price", [{"name": "asset", "value": "ETH"}, {"name": "amount", "type": 10, "value": 2.5}],
                          guild_id=GUILD, channel_id=OTHER_CHANNEL)
    followup = await emu.wait_for(lambda r: r.get("interaction_id") == iid and r.get("method") == "POST")
    assert emu.response_to(iid)["type"] == 5
    assert followup["data"]["content"] == "2.5 ETH = 123.45 USD"
    # Discord: the first followup after a "thinking" defer replaces the thinking message
    assert followup["message_id"] == emu.response_to(iid)["message_id"]
    message = emu.messages[followup["message_id"]]
    assert message["content"] == "2.5 ETH = 123.45 USD" and message["channel_id"] == str(OTHER_CHANNEL)


async def test_button_click_reaches_the_view_with_the_clicker(emu, bot):
    iid = await emu.slash(ALICE, "panel", guild_id=GUILD, channel_id=CHANNEL)
    sent = await emu.wait_for(lambda r: r.get("interaction_id") == iid)
    assert sent["type"] == 4 and sent["data"]["components"][0]["components"][0]["custom_id"] == "confirm"
    message_id = sent["message_id"]

    click = await emu.click(BOB, message_id, "confirm")
    update = await emu.wait_for(lambda r: r.get("interaction_id") == click)
    assert bot.clicks == [(BOB, message_id)]
    assert update["type"] == 7
    assert update["data"]["content"] == f"confirmed by {BOB}" and update["data"]["components"] == []
    assert emu.messages[message_id]["content"] == f"confirmed by {BOB}"
    with pytest.raises(AssertionError, match="no component"):
        await emu.click(BOB, message_id, "confirm")


async def test_channel_messages_and_discord_errors(emu, bot):
    channel = bot.get_channel(CHANNEL)
    sent = await channel.send("ping", file=discord.File(io.BytesIO(b"PNGDATA"), filename="chart.png"))
    record = await emu.wait_for(lambda r: r.get("id") == sent.id)
    assert record["channel_id"] == CHANNEL and record["guild_id"] == GUILD and record["content"] == "ping"
    assert record["attachments"][0]["filename"] == "chart.png" and record["attachments"][0]["data"] == b"PNGDATA"
    assert sent.attachments[0].filename == "chart.png"

    emu.fail_next_message(403, 50013, "Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013 and forbidden.value.status == 403

    emu.fail_next_message(404, 10003, "Unknown Channel", channel_id=CHANNEL)
    with pytest.raises(discord.NotFound) as missing:
        await channel.send("gone")
    assert missing.value.code == 10003

    emu.fail_next_message(429, 0, "You are being rate limited.", retry_after=0.3)
    started = time.monotonic()
    retried = await channel.send("after the rate limit")
    assert time.monotonic() - started >= 0.3
    assert (await emu.wait_for(lambda r: r.get("id") == retried.id))["content"] == "after the rate limit"
    assert [r["status"] for r in emu.requests if r["method"] == "POST" and r["path"].endswith("/messages")] == [
        200, 403, 404, 429, 200]

    edited = await retried.edit(content="edited")
    assert edited.content == "edited" and emu.message_edits[-1]["data"]["content"] == "edited"

    with pytest.raises(discord.HTTPException) as empty:
        await bot.http.send_message(CHANNEL, params=discord.http.handle_message_parameters(content=""))
    assert empty.value.code == 50006


async def test_direct_message_to_a_user(emu, bot):
    user = await bot.fetch_user(ALICE)
    sent = await user.send("your loan is at risk")
    record = await emu.wait_for(lambda r: r.get("content") == "your loan is at risk")
    assert emu.dm_channels[ALICE] == record["channel_id"] == sent.channel.id
    assert record["guild_id"] is None

    emu.fail_next_message(403, 50007, "Cannot send messages to this user", channel_id=emu.dm_channels[ALICE])
    with pytest.raises(discord.Forbidden) as blocked:
        await user.send("again")
    assert blocked.value.code == 50007


async def test_interaction_rules_of_discord(emu, bot):
    """Late answers are refused like Discord does; a reconnect resumes the session and interactions still arrive."""
    emu.response_deadline = 0.0
    errors: list[BaseException] = []

    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        errors.append(error)

    bot.tree.on_error = on_error  # type: ignore[method-assign]
    iid = await emu.slash(ALICE, "hello", [{"name": "name", "value": "late"}], guild_id=GUILD)
    for _ in range(100):
        if errors:
            break
        await asyncio.sleep(0.02)
    assert emu.response_to(iid) is None
    assert isinstance(errors[0], app_commands.CommandInvokeError) and isinstance(errors[0].original, discord.NotFound)
    assert errors[0].original.code == 10062
    emu.response_deadline = 3.0

    await emu.request_reconnect()
    for _ in range(100):
        if emu.resumed:
            break
        await asyncio.sleep(0.02)
    assert emu.resumed == 1
    iid = await emu.slash(ALICE, "hello", [{"name": "name", "value": "again"}], guild_id=GUILD)
    assert (await emu.wait_for(lambda r: r.get("interaction_id") == iid))["type"] == 4


async def test_wrong_token_is_a_login_failure(emu):
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("WRONG.TOKEN")
    await client.close()
