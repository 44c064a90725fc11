"""Discord on discord.py: typed slash commands -> the core's text command -> one core call -> an embed.

Each app command only turns its typed options into the command text the core already parses, so
Telegram, Discord and the console share one grammar and one set of checks. Private answers in
guild channels are ephemeral. Buttons carry their command in the custom id and run as whoever
pressed them (a DynamicItem, so they work on warnings sent by the notifier and after restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging

import discord
import yarl
from discord import app_commands

from core.chat.assistant import Assistant
from core.chat.buttons import EXPIRED, ButtonBook
from core.lending.models import Actor, ChatRef, Owner
from core.replies import Reply
from core.watch.delivery import MaybeDelivered, Rejected, RetryLater, Undeliverable
from core.watch.notices import Notice

from .discord_commands import register
from .render import embed_parts, fitted_notice

log = logging.getLogger(__name__)

# The permissions of whoever is being answered right now, as Discord computed them for this interaction.
_PERMISSIONS: contextvars.ContextVar[tuple[str, discord.Permissions] | None] = contextvars.ContextVar("perms", default=None)
# Answered in the channel for all to see; the rest answer privately. /status lists the caller's own delivery
# failures, and /price with no assets lists the assets the caller holds, so neither is here (see `private`).
PUBLIC = {"start", "help", "protocols", "watch", "unwatch", "watching", "yield", "il"}


def private(text: str, in_guild: bool) -> bool:
    """Whether the answer to this command text must be ephemeral (in a guild: anything about the caller's own data)."""
    words = text.split()
    name = words[0][1:]
    if not in_guild or name in PUBLIC:
        return False
    return not (name == "price" and len(words) > 1)  # /price ETH BTC names its assets: nothing of the caller's


def embed(reply: Reply) -> discord.Embed:
    """The Reply as an embed coloured by severity."""
    parts = embed_parts(reply)
    e = discord.Embed(title=parts["title"], description=parts["description"] or None, colour=parts["colour"])
    for field in parts["fields"]:
        e.add_field(name=field["name"], value=field["value"], inline=False)
    if parts["footer"]:
        e.set_footer(text=parts["footer"])
    return e


class TokenButton(discord.ui.DynamicItem[discord.ui.Button], template=r"btn:(?P<token>[A-Za-z0-9_-]{22})"):
    """A button whose custom id is a token the bot issued (core.chat.buttons): what it runs, on which position,
    in whose scope and for whom is kept by the bot, so a forged or copied id finds nothing."""

    handler = None  # set by the adapter: async (interaction, token) -> None

    def __init__(self, label: str, token: str):
        super().__init__(discord.ui.Button(label=label, custom_id=f"btn:{token}", style=discord.ButtonStyle.secondary))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> TokenButton:
        """Rebuilt from the custom id of whatever message was clicked."""
        return cls(item.label or "", match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Redeem the token as the presser."""
        await TokenButton.handler(interaction, self.token)


class RetiredButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cmd:[^\n]{1,96}"):
    """Buttons from before tokens carried their command in the clear: they are answered, never run."""

    def __init__(self, custom_id: str):
        super().__init__(discord.ui.Button(label="-", custom_id=custom_id))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> RetiredButton:
        """Rebuilt from an old custom id."""
        return cls(item.custom_id or "cmd:")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Say it expired, to the presser alone."""
        await interaction.response.send_message(embed=embed(Reply.failure(EXPIRED)), ephemeral=True)


def buttons(reply: Reply, tokens: tuple[str, ...]) -> discord.ui.View | None:
    """The reply's buttons, each carrying only its token."""
    if not reply.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b, token in zip(reply.buttons, tokens, strict=False):
        view.add_item(TokenButton(b.label, token))
    return view


def _once(defer):
    """`defer` made safe to call twice (a progress note and the 2 s deadline may both want it)."""
    called = False

    async def run() -> None:
        nonlocal called
        if not called:
            called = True
            await defer()

    return run


def can_post(permissions: discord.Permissions | None) -> bool | None:
    """Whether these permissions let the bot post a warning (an embed) in a channel; None when unknown."""
    if permissions is None:
        return None
    return permissions.administrator or (permissions.view_channel and permissions.send_messages and permissions.embed_links)


def channel_title(channel, guild) -> str | None:
    """'#alerts in Borrowers': a channel as its members see it."""
    name = getattr(channel, "name", None)
    if not name:
        return None
    return f"#{name} in {guild.name}" if guild is not None and getattr(guild, "name", None) else f"#{name}"


def point_at(api_base: str, gateway: str) -> None:
    """Send discord.py to another REST root and gateway (a Discord-compatible server, or a test emulator)."""
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


class DiscordAdmins:
    """core.ports.ChatAdmins from the permissions Discord sent with the interaction being handled now."""

    async def is_admin(self, chat: ChatRef, user: Owner, right: str = "positions") -> bool:
        """Manage Server for the channel's own positions, Manage Channels to stop a member's sharing."""
        current = _PERMISSIONS.get()
        if current is None or current[0] != user.id or chat.platform != "discord":
            return False
        perms = current[1]
        if perms.administrator:
            return True
        return perms.manage_guild if right == "positions" else perms.manage_channels or perms.manage_guild


UNAUTHORIZED_PAUSE = 600.0  # seconds without any Discord send after a 401: one invalid request per 10 minutes at most


class DiscordNotifier:
    """core.watch.delivery.Notifier for Discord: channels for groups, DMs for users; errors as docs/operations.md maps them."""

    platform = "discord"

    def __init__(self, client: discord.Client, buttons: ButtonBook):
        self.client = client
        self.buttons = buttons
        self._unauthorized = False  # the last send met a 401 (logged once until a send succeeds again)

    def accepts(self, chat: ChatRef) -> bool:
        """Every Discord destination."""
        return True

    async def _channel(self, chat: ChatRef):
        if chat.is_group:
            return self.client.get_channel(int(chat.chat_id)) or await self.client.fetch_channel(int(chat.chat_id))
        user = self.client.get_user(int(chat.chat_id)) or await self.client.fetch_user(int(chat.chat_id))
        return user.dm_channel or await user.create_dm()

    async def send(self, chat: ChatRef, notice: Notice) -> None:
        """Post the warning as an embed with its buttons; discord.py itself waits out 429s."""
        reply = fitted_notice(notice, lambda r: not embed_parts(r)["cut"])  # a warning is one embed, never cut short
        channel = None
        try:
            channel = await self._channel(chat)
            # A group's notice names its own positions by plain id (members' shared ones as W1, which mean
            # the same in any scope), so its buttons act for the group; a DM's act for its reader.
            reader = None if chat.is_group else Owner("discord", "user", chat.chat_id)
            tokens = self.buttons.issue(chat, reply.buttons, reader, "g" if chat.is_group else "u")
            view = buttons(reply, tokens)
            message = await channel.send(embed=embed(reply), **({"view": view} if view else {}))
            self._unauthorized = False
        except discord.Forbidden as err:
            raise Undeliverable(f"Discord {err.code}: {err.text or 'forbidden'}",
                                channel_title(channel, getattr(channel, "guild", None)) if chat.is_group else None) from None
        except discord.NotFound as err:
            if err.code in (10003, 10013, 10004):  # unknown channel, user, guild
                raise Undeliverable(f"Discord {err.code}: {err.text or 'not found'}") from None
            raise Rejected(f"Discord {err.code}: {err.text}") from None
        except discord.HTTPException as err:
            if err.status == 429:
                raise RetryLater(float(getattr(err, "retry_after", 5) or 5), "chat") from None
            if err.status == 401:
                # The token is no longer valid: every request would fail the same way, and Discord bans an IP
                # after 10,000 invalid requests in 10 minutes. Pause the whole platform; the message stays queued.
                if not self._unauthorized:
                    log.error("Discord answered 401 Unauthorized: the bot token was reset or revoked; "
                              "pausing Discord delivery for %d s at a time until it is replaced", UNAUTHORIZED_PAUSE)
                self._unauthorized = True
                raise RetryLater(UNAUTHORIZED_PAUSE, "global") from None
            if 400 <= err.status < 500:
                raise Rejected(f"Discord {err.code}: {err.text}") from None
            raise
        except TimeoutError:
            raise MaybeDelivered("Discord did not answer in time") from None
        self.buttons.bind(tokens, message.id)


class CollateralClient(discord.Client):
    """The discord.py client: the command tree, synced at start-up (globally, or to one guild)."""

    def __init__(self, adapter: DiscordAdapter, guild_id: int | None, shard: tuple[int, int] | None = None):
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # a text bot: no voice, no warning about it
        # shard: (shard_id, shard_count) when one gateway session is not enough (past 2,500 servers)
        sharding = {"shard_id": shard[0], "shard_count": shard[1]} if shard else {}
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.5, **sharding)
        self.adapter = adapter
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(self)
        register(self.tree, adapter)

    # The gateway says what changed about the bot's rights; a channel it stopped posting to may be open again.
    async def on_guild_channel_update(self, before, after) -> None:
        """A channel's permission overwrites may have changed."""
        self.adapter.recheck(after.guild)

    async def on_guild_role_update(self, before, after) -> None:
        """A role's permissions may have changed."""
        self.adapter.recheck(after.guild)

    async def on_member_update(self, before, after) -> None:
        """The bot's own roles may have changed."""
        if self.user is not None and after.id == self.user.id:
            self.adapter.recheck(after.guild)

    async def on_guild_join(self, guild) -> None:
        """Invited (back) into a server."""
        self.adapter.recheck(guild)

    async def setup_hook(self) -> None:
        """Sync the commands; register the buttons that outlive any one message."""
        self.add_dynamic_items(TokenButton, RetiredButton)
        if self.shard_id:  # the commands are the application's, not a shard's: shard 0 syncs them
            return
        if self.guild_id:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()


class DiscordAdapter:
    """Owns the client; every command goes through `run`."""

    def __init__(self, assistant: Assistant, guild_id: int | None = None, shard: tuple[int, int] | None = None):
        self.assistant = assistant
        self.defer_after = 2.0  # seconds before an interaction is deferred: Discord drops one unanswered after 3 s
        self.client = CollateralClient(self, guild_id, shard)
        self._task: asyncio.Task | None = None
        TokenButton.handler = self.press

    # ---------------------------------------------------------------- life cycle

    async def start(self, token: str, timeout: float = 30.0) -> None:
        """Log in, connect to the gateway and wait until ready."""
        self._task = asyncio.get_running_loop().create_task(self.client.start(token), name="discord")
        ready = asyncio.get_running_loop().create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            error = self._task.exception() if self._task.done() else None
            await self.stop()
            raise RuntimeError(f"Discord did not get ready: {type(error).__name__ if error else 'timed out'}")

    async def stop(self) -> None:
        """Close the gateway and the HTTP session."""
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(Exception):  # shutting down anyway (a timeout is an Exception too)
                await asyncio.wait_for(self._task, 10)

    # ---------------------------------------------------------------- one path for every command

    def actor(self, interaction: discord.Interaction, server: bool = False) -> Actor:
        """The person, the channel, and whose positions plain ids mean (theirs, or the channel's with server=True)."""
        user = Owner("discord", "user", str(interaction.user.id))
        title, may_post = None, None
        if interaction.guild_id is None:
            chat = ChatRef("discord", str(interaction.user.id))
        else:
            chat = ChatRef("discord", str(interaction.channel_id), is_group=True)
            title = channel_title(interaction.channel, interaction.guild)
            may_post = can_post(interaction.app_permissions)
        acting_for = Owner("discord", "group", chat.chat_id) if server and chat.is_group else user
        return Actor(user, chat, interaction.user.display_name or interaction.user.name, acting_for, title, may_post)

    def recheck(self, guild) -> None:
        """Channels of this server the bot had stopped posting to: those it may post in again get their warnings back."""
        if guild is None or guild.me is None:
            return
        for chat_id in self.assistant.stopped_chats("discord"):
            channel = guild.get_channel(int(chat_id)) if chat_id.isdigit() else None
            if channel is not None and can_post(channel.permissions_for(guild.me)):
                self.assistant.chat_access(ChatRef("discord", chat_id, True), True, channel_title(channel, guild))

    def _before(self, actor: Actor) -> Reply | None:
        """What the platform just told: a channel the bot may post in again; DMs worth trying again (a note to say)."""
        if actor.chat.is_group and actor.may_post:
            self.assistant.chat_access(actor.chat, True, actor.chat_title)
        return self.assistant.welcome_back(actor)

    @staticmethod
    async def _note(interaction: discord.Interaction, note: Reply | None) -> None:
        """Said to the user alone, after the answer."""
        if note is not None:
            await interaction.followup.send(embed=embed(note), ephemeral=True)

    async def run(self, interaction: discord.Interaction, text: str, server: bool = False) -> None:
        """Answer a command: the core decides, this only renders (ephemeral unless public in a guild)."""
        hidden = private(text, interaction.guild_id is not None)
        _PERMISSIONS.set((str(interaction.user.id), interaction.permissions))
        actor = self.actor(interaction, server)
        note = self._before(actor)
        defer = _once(lambda: interaction.response.defer(ephemeral=hidden, thinking=True))

        async def progress(words: str) -> None:  # said at once, to the caller alone, while the answer waits
            await defer()
            await interaction.followup.send(content=words, ephemeral=True)

        reply = await self._within_deadline(actor, text, defer, progress)
        await self._answer(interaction, reply, hidden, "g" if server and interaction.guild_id is not None else "u")
        await self._note(interaction, note)

    async def _within_deadline(self, actor: Actor, text: str, defer, progress=None) -> Reply:
        """The core's reply; when it is not ready after `defer_after` seconds, `defer()` first (Discord wants an answer within 3 s)."""
        work = asyncio.ensure_future(self.assistant.handle(actor, text, progress))  # copies the context: _PERMISSIONS goes along
        done, _ = await asyncio.wait({work}, timeout=self.defer_after)
        if not done:
            await defer()
        return await work

    async def _answer(self, interaction: discord.Interaction, reply: Reply, private: bool, scope: str) -> None:
        # A refusal (bad input, a rate limit) is for the caller alone, even after a public command.
        kwargs = {"embed": embed(reply), "ephemeral": private or reply.error}
        tokens = ()
        if reply.buttons:
            actor = self.actor(interaction)
            tokens = self.assistant.buttons.issue(actor.chat, reply.buttons, actor.user, scope)
            kwargs["view"] = buttons(reply, tokens)
        if reply.attachment is not None:
            kwargs["file"] = discord.File(io.BytesIO(reply.attachment.content), filename=reply.attachment.filename)
        if interaction.response.is_done():
            message = await interaction.followup.send(wait=True, **kwargs)
        else:
            answer = await interaction.response.send_message(**kwargs)
            message = getattr(answer, "resource", None)
        if tokens:
            self.assistant.buttons.bind(tokens, getattr(message, "id", None))  # unbound, the first press binds them

    async def press(self, interaction: discord.Interaction, token: str) -> None:
        """A button: only what the bot issued on that message runs, as the presser, so the core checks their rights."""
        _PERMISSIONS.set((str(interaction.user.id), interaction.permissions))
        hidden = interaction.guild_id is not None
        message_id = interaction.message.id if interaction.message is not None else None
        confirm = self.assistant.buttons.confirms(token)  # a confirmation edits its question; anything else answers anew
        actor = self.actor(interaction)
        note = self._before(actor)
        work = asyncio.ensure_future(self.assistant.press(actor, token, message_id))
        done, _ = await asyncio.wait({work}, timeout=self.defer_after)
        if not done:  # a price refresh (Details on a warning) can outlast Discord's 3 s: acknowledge now, answer after
            if confirm:
                await interaction.response.defer()  # "updating this message", edited below
            else:
                await interaction.response.defer(ephemeral=hidden, thinking=True)
        pressed = await work
        reply, deferred = pressed.reply, interaction.response.is_done()
        if pressed.action == "dismiss":
            await interaction.response.edit_message(view=None)
        elif pressed.action == "confirm" and deferred:
            await interaction.edit_original_response(embed=embed(reply), view=None)
        elif pressed.action == "confirm":
            await interaction.response.edit_message(embed=embed(reply), view=None)
        elif deferred:
            await interaction.followup.send(embed=embed(reply), ephemeral=hidden or pressed.action == "refused")
        else:
            await interaction.response.send_message(embed=embed(reply), ephemeral=hidden or pressed.action == "refused")
        await self._note(interaction, note)

    # ---------------------------------------------------------------- autocomplete

    async def assets(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        wanted = current.strip().upper()
        symbols = [a.symbol for a in self.assistant.registry if a.symbol.upper().startswith(wanted)]
        return [app_commands.Choice(name=s, value=s) for s in symbols[:25]]

    async def lenders(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{p.id}: {p.name}"[:100], value=p.id) for p in self.assistant.presets
                if p.id.startswith(current.lower().strip())][:25]

    async def positions(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        """The ids the command will take: the caller's, or with server:True already chosen, the channel's group's."""
        group = getattr(interaction.namespace, "server", False) is True and interaction.guild_id is not None
        owner = self.actor(interaction, server=group).acting_for
        out = []
        for p in self.assistant.store.positions(owner):
            name = f"#{p.number}{' ' + p.label if p.label else ''}: {p.protocol}"
            if current.strip() in str(p.number) or current.lower() in name.lower():
                out.append(app_commands.Choice(name=name[:100], value=p.number))
        return out[:25]
