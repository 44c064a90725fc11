"""Discord on discord.py: typed slash commands -> the core's text command -> one core call -> an embed.

Each app command only turns its typed options into the command text the core already parses, so
Telegram, Discord and the console share one grammar and one set of checks. Private answers in
guild channels are ephemeral. Buttons carry their command in the custom id and run as whoever
pressed them (a DynamicItem, so they work on warnings sent by the notifier and after restarts).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging

import discord
import yarl
from discord import app_commands

from core.commands import COMMANDS
from core.delivery import MaybeDelivered, Rejected, RetryLater, Undeliverable
from core.models import Actor, ChatRef, Owner
from core.notices import Notice, notice_reply
from core.replies import Reply
from core.service import Assistant

from .render import embed_parts

log = logging.getLogger(__name__)

# The permissions of whoever is being answered right now, as Discord computed them for this interaction.
_PERMISSIONS: contextvars.ContextVar[tuple[str, discord.Permissions] | None] = contextvars.ContextVar("perms", default=None)
PUBLIC = {"start", "help", "price", "protocols", "status", "watch", "unwatch", "watching", "yield", "il"}  # the rest answer privately
MAX_ID = 999_999_999
Percent = app_commands.Range[float, 0.01, 99.99]


def embed(reply: Reply) -> discord.Embed:
    """The Reply as an embed coloured by severity."""
    parts = embed_parts(reply)
    e = discord.Embed(title=parts["title"], description=parts["description"] or None, colour=parts["colour"])
    for field in parts["fields"]:
        e.add_field(name=field["name"], value=field["value"], inline=False)
    if parts["footer"]:
        e.set_footer(text=parts["footer"])
    return e


class CommandButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cmd:(?P<command>/[^\n]{1,90})"):
    """A button whose custom id is the command it runs, as the person who pressed it."""

    handler = None  # set by the adapter: async (interaction, command) -> None

    def __init__(self, label: str, command: str):
        super().__init__(discord.ui.Button(label=label, custom_id=f"cmd:{command}"[:100], style=discord.ButtonStyle.secondary))
        self.command = command

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> CommandButton:
        """Rebuilt from the custom id of whatever message was clicked."""
        return cls(item.label or "", match["command"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Run the command as the presser."""
        await CommandButton.handler(interaction, self.command)


def buttons(reply: Reply) -> discord.ui.View | None:
    """The reply's buttons ("Keep it" and the like dismiss the message)."""
    if not reply.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b in reply.buttons:
        view.add_item(CommandButton(b.label, b.command or "/dismiss"))
    return view


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


class DiscordNotifier:
    """core.ports.Notifier for Discord: channels for groups, DMs for users; errors as RELIABILITY.md maps them."""

    platform = "discord"

    def __init__(self, client: discord.Client):
        self.client = client

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
        reply = notice_reply(notice)
        try:
            channel = await self._channel(chat)
            view = buttons(reply)
            await channel.send(embed=embed(reply), **({"view": view} if view else {}))
        except discord.Forbidden as err:
            raise Undeliverable(f"Discord {err.code}: {err.text or 'forbidden'}") from None
        except discord.NotFound as err:
            if err.code in (10003, 10013, 10004):  # unknown channel, user, guild
                raise Undeliverable(f"Discord {err.code}: {err.text or 'not found'}") from None
            raise Rejected(f"Discord {err.code}: {err.text}") from None
        except discord.HTTPException as err:
            if err.status == 429:
                raise RetryLater(float(getattr(err, "retry_after", 5) or 5), "chat") from None
            if 400 <= err.status < 500:
                raise Rejected(f"Discord {err.code}: {err.text}") from None
            raise
        except asyncio.TimeoutError:
            raise MaybeDelivered("Discord did not answer in time") from None


class CollateralClient(discord.Client):
    """The discord.py client: the command tree, synced at start-up (globally, or to one guild)."""

    def __init__(self, adapter: DiscordAdapter, guild_id: int | None):
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # a text bot: no voice, no warning about it
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.5)
        self.adapter = adapter
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(self)
        adapter.register(self.tree)

    async def setup_hook(self) -> None:
        """Sync the commands; register the buttons that outlive any one message."""
        self.add_dynamic_items(CommandButton)
        if self.guild_id:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()


class DiscordAdapter:
    """Owns the client; every command goes through `run`."""

    def __init__(self, assistant: Assistant, guild_id: int | None = None):
        self.assistant = assistant
        self.client = CollateralClient(self, guild_id)
        self._task: asyncio.Task | None = None
        CommandButton.handler = self.press

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
            try:
                await asyncio.wait_for(self._task, 10)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutting down anyway
                pass

    # ---------------------------------------------------------------- one path for every command

    def actor(self, interaction: discord.Interaction, server: bool = False) -> Actor:
        """The person, the channel, and whose positions plain ids mean (theirs, or the channel's with server=True)."""
        user = Owner("discord", "user", str(interaction.user.id))
        if interaction.guild_id is None:
            chat = ChatRef("discord", str(interaction.user.id))
        else:
            chat = ChatRef("discord", str(interaction.channel_id), is_group=True)
        acting_for = Owner("discord", "group", chat.chat_id) if server and chat.is_group else user
        return Actor(user, chat, interaction.user.display_name or interaction.user.name, acting_for)

    async def run(self, interaction: discord.Interaction, text: str, server: bool = False) -> None:
        """Answer a command: the core decides, this only renders (ephemeral unless public in a guild)."""
        name = text.split()[0][1:]
        private = interaction.guild_id is not None and name not in PUBLIC
        _PERMISSIONS.set((str(interaction.user.id), interaction.permissions))
        work = asyncio.ensure_future(self.assistant.handle(self.actor(interaction, server), text))
        done, _ = await asyncio.wait({work}, timeout=2.0)  # Discord wants an answer within 3 s
        if not done:
            await interaction.response.defer(ephemeral=private, thinking=True)
        reply = await work
        await self._answer(interaction, reply, private)

    async def _answer(self, interaction: discord.Interaction, reply: Reply, private: bool) -> None:
        kwargs = {"embed": embed(reply), "ephemeral": private}
        view = buttons(reply)
        if view:
            kwargs["view"] = view
        if reply.attachment is not None:
            kwargs["file"] = discord.File(io.BytesIO(reply.attachment.content), filename=reply.attachment.filename)
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs)
        else:
            await interaction.response.send_message(**kwargs)

    async def press(self, interaction: discord.Interaction, command: str) -> None:
        """A button: the command runs as the presser, so the core checks their rights again."""
        if command == "/dismiss":
            await interaction.response.edit_message(view=None)
            return
        _PERMISSIONS.set((str(interaction.user.id), interaction.permissions))
        reply = await self.assistant.handle(self.actor(interaction), command)
        if command.endswith(" yes") and not reply.error:
            await interaction.response.edit_message(embed=embed(reply), view=None)
        else:
            await interaction.response.send_message(embed=embed(reply), ephemeral=interaction.guild_id is not None)

    # ---------------------------------------------------------------- autocomplete

    async def _assets(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        wanted = current.strip().upper()
        symbols = [a.symbol for a in self.assistant.registry if a.symbol.upper().startswith(wanted)]
        return [app_commands.Choice(name=s, value=s) for s in symbols[:25]]

    async def _lenders(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{p.id}: {p.name}"[:100], value=p.id) for p in self.assistant.presets
                if p.id.startswith(current.lower().strip())][:25]

    async def _positions(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        owner = Owner("discord", "user", str(interaction.user.id))
        out = []
        for p in self.assistant.store.positions(owner):
            name = f"#{p.number}{' ' + p.label if p.label else ''}: {p.protocol}"
            if current.strip() in str(p.number) or current.lower() in name.lower():
                out.append(app_commands.Choice(name=name[:100], value=p.number))
        return out[:25]

    # ---------------------------------------------------------------- the commands

    def register(self, tree: app_commands.CommandTree) -> None:
        """Every command of the bot, typed, described, constrained."""
        run = self.run
        d = {name: spec.summary[:100] for name, spec in COMMANDS.items()}
        assets, lenders, positions = self._assets, self._lenders, self._positions

        def arg(*parts) -> str:
            return " ".join(str(p) for p in parts if p not in (None, ""))

        @tree.command(name="start", description=d["start"])
        async def start(i: discord.Interaction):
            await run(i, "/start")

        async def command_names(i: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=n, value=n) for n in COMMANDS if n.startswith(current.lower().strip())][:25]

        @tree.command(name="help", description=d["help"])
        @app_commands.describe(command="one command in detail")
        @app_commands.autocomplete(command=command_names)
        async def help_(i: discord.Interaction, command: str | None = None):
            await run(i, arg("/help", command))

        @tree.command(name="add", description=d["add"])
        @app_commands.describe(amount="how much collateral", asset="collateral asset", lender="the lender or preset",
                               borrow_amount="how much you borrowed", borrow_asset="what you borrowed",
                               more_collateral="further collateral, like '0.5 WBTC'", market="market, ilk or branch (e.g. ETH-A, emode)",
                               ltv="your own borrow limit, %", lt="your own liquidation threshold, %", lltv="Morpho market LLTV, %",
                               label="a name for it", server="register it for this channel's group (needs Manage Server)")
        @app_commands.autocomplete(asset=assets, borrow_asset=assets, lender=lenders)
        async def add(i: discord.Interaction, amount: app_commands.Range[float, 0.00000001, 1e15], asset: str, lender: str,
                      borrow_amount: app_commands.Range[float, 0.00000001, 1e15] | None = None, borrow_asset: str | None = None,
                      more_collateral: str | None = None, market: str | None = None, ltv: Percent | None = None,
                      lt: Percent | None = None, lltv: Percent | None = None, label: str | None = None, server: bool = False):
            text = arg("/add", f"{amount:f}".rstrip("0").rstrip("."), asset, more_collateral)
            if borrow_amount is not None or borrow_asset:
                text = arg(text, "borrow", f"{borrow_amount:f}".rstrip("0").rstrip(".") if borrow_amount else None, borrow_asset)
            text = arg(text, "on", lender, market, *(f"{k} {v:g}%" for k, v in (("ltv", ltv), ("lt", lt), ("lltv", lltv)) if v))
            await run(i, arg(text, "as", label) if label else text, server)

        @tree.command(name="positions", description=d["positions"])
        @app_commands.describe(server="this channel's group's own positions instead of yours")
        async def positions_(i: discord.Interaction, server: bool = False):
            await run(i, "/positions", server)

        @tree.command(name="health", description=d["health"])
        @app_commands.describe(position="your position's id", watched="a position shared here, like W1")
        @app_commands.autocomplete(position=positions)
        async def health(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                         watched: str | None = None, server: bool = False):
            await run(i, arg("/health", watched or position), server)

        def change(name: str):
            @app_commands.describe(position="your position's id", amount="how much, like '1 ETH' or '500 USDC'")
            @app_commands.autocomplete(position=positions)
            async def command(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], amount: str, server: bool = False):
                await run(i, arg(f"/{name}", position, amount), server)

            tree.command(name=name, description=d[name])(command)

        for name in ("deposit", "withdraw", "borrow", "repay"):
            change(name)

        @tree.command(name="remove", description=d["remove"])
        @app_commands.autocomplete(position=positions)
        async def remove(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], server: bool = False):
            await run(i, arg("/remove", position), server)

        @tree.command(name="capacity", description=d["capacity"])
        @app_commands.describe(position="your position's id", hf="target health factor", ltv="target LTV, %",
                               cr="target collateral ratio, %", collateral="or a hypothetical: '10 ETH on aave-v3'")
        @app_commands.autocomplete(position=positions)
        async def capacity(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                           hf: app_commands.Range[float, 1.01, 100.0] | None = None, ltv: Percent | None = None,
                           cr: app_commands.Range[float, 100.01, 10000.0] | None = None, collateral: str | None = None):
            target = f"hf {hf:g}" if hf else f"ltv {ltv:g}%" if ltv else f"cr {cr:g}%" if cr else None
            await run(i, arg("/capacity", collateral or position, target))

        @tree.command(name="whatif", description=d["whatif"])
        @app_commands.describe(asset="asset that moves (ALL: every non-stable one)", change="move in %, e.g. -30",
                               asset2="a second asset", change2="its move in %", position="only this position")
        @app_commands.autocomplete(asset=assets, asset2=assets, position=positions)
        async def whatif(i: discord.Interaction, asset: str, change: app_commands.Range[float, -100.0, 1000.0],
                         asset2: str | None = None, change2: app_commands.Range[float, -100.0, 1000.0] | None = None,
                         position: app_commands.Range[int, 1, MAX_ID] | None = None):
            moves = [f"{asset} {change:+g}%"] + ([f"{asset2} {change2:+g}%"] if asset2 and change2 is not None else [])
            await run(i, arg("/whatif", position, *moves))

        @tree.command(name="price", description=d["price"])
        @app_commands.describe(assets="assets, like 'ETH BTC' (default: those you hold)")
        async def price(i: discord.Interaction, assets: str | None = None):
            await run(i, arg("/price", assets))

        @tree.command(name="protocols", description=d["protocols"])
        @app_commands.autocomplete(lender=lenders)
        async def protocols(i: discord.Interaction, lender: str | None = None):
            await run(i, arg("/protocols", lender))

        @tree.command(name="alerts", description=d["alerts"])
        @app_commands.describe(position="your position's id (none: all of yours)", warn="warning level (HF, or % in the lender's metric)",
                               critical="danger level", switch="warnings on or off", percent="levels are in % of LTV or CR")
        @app_commands.choices(switch=[app_commands.Choice(name=n, value=n) for n in ("on", "off", "reset")])
        @app_commands.autocomplete(position=positions)
        async def alerts(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID] | None = None,
                         warn: app_commands.Range[float, 1.0, 100.0] | None = None,
                         critical: app_commands.Range[float, 1.0, 100.0] | None = None, switch: str | None = None,
                         percent: bool = False, server: bool = False):
            pct = "%" if percent else ""
            levels = [f"warn {warn:g}{pct}" if warn else None, f"critical {critical:g}{pct}" if critical else None]
            await run(i, arg("/alerts", position, switch if position or switch in ("on", "off") else None, *levels), server)

        @tree.command(name="snooze", description=d["snooze"])
        @app_commands.describe(target="a position id, W1 for one shared here, or 'all'", duration="for how long")
        @app_commands.choices(duration=[app_commands.Choice(name=n, value=n) for n in ("30m", "1h", "2h", "6h", "24h", "7d", "off")])
        async def snooze(i: discord.Interaction, target: str, duration: str, server: bool = False):
            await run(i, arg("/snooze", target, duration), server)

        @tree.command(name="watch", description=d["watch"])
        @app_commands.autocomplete(position=positions)
        async def watch(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID]):
            await run(i, arg("/watch", position))

        @tree.command(name="unwatch", description=d["unwatch"])
        @app_commands.describe(target="W1 (see /watching), or your own position id")
        async def unwatch(i: discord.Interaction, target: str):
            await run(i, arg("/unwatch", target))

        def plain(name: str):
            async def command(i: discord.Interaction):
                await run(i, f"/{name}")

            tree.command(name=name, description=d[name])(command)

        for name in ("watching", "status"):
            plain(name)

        @tree.command(name="yield", description=d["yield"])
        @app_commands.describe(asset="the asset to earn on", chain="only this chain (e.g. Ethereum, Arbitrum)",
                               min_tvl="smallest pool size in USD (default 1,000,000)", stable="stablecoin pools only",
                               no_il="no impermanent-loss risk", single="single-asset pools only")
        @app_commands.autocomplete(asset=assets)
        async def yield_(i: discord.Interaction, asset: str, chain: str | None = None,
                         min_tvl: app_commands.Range[float, 0.0, 1e13] | None = None, stable: bool = False,
                         no_il: bool = False, single: bool = False):
            flags = [f"chain {chain}" if chain else None, f"min-tvl {min_tvl:.0f}" if min_tvl else None,
                     "stable" if stable else None, "no-il" if no_il else None, "single" if single else None]
            await run(i, arg("/yield", asset, *flags))

        @tree.command(name="rate", description=d["rate"])
        @app_commands.describe(position="your position's id", apr="what the debt costs a year, %", off="forget the rate")
        @app_commands.autocomplete(position=positions)
        async def rate(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID],
                       apr: app_commands.Range[float, 0.0, 1000.0] | None = None, off: bool = False, server: bool = False):
            await run(i, arg("/rate", position, "off" if off or apr is None else f"{apr:g}%"), server)

        @tree.command(name="carry", description=d["carry"])
        @app_commands.describe(position="your position's id", expected_yield="what the borrowed amount earns, % APY (default: the best pool)")
        @app_commands.autocomplete(position=positions)
        async def carry(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID],
                        expected_yield: app_commands.Range[float, 0.0, 1000.0] | None = None, server: bool = False):
            await run(i, arg("/carry", position, f"yield {expected_yield:g}%" if expected_yield is not None else None), server)

        @tree.command(name="backtest", description=d["backtest"])
        @app_commands.describe(position="your position's id", window="which crash (default: all four)")
        @app_commands.choices(window=[app_commands.Choice(name=n, value=n) for n in ("2020-03", "2021-05", "2022-06", "2022-11", "all")])
        @app_commands.autocomplete(position=positions)
        async def backtest(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], window: str = "all",
                           server: bool = False):
            await run(i, arg("/backtest", position, window), server)

        @tree.command(name="il", description=d["il"])
        @app_commands.describe(pair="the pool pair, like ETH-USDC", start_price="price when you entered", end_price="price now or then",
                               range_low="concentrated range: lower price", range_high="concentrated range: upper price")
        async def il_(i: discord.Interaction, pair: str, start_price: app_commands.Range[float, 1e-9, 1e15],
                      end_price: app_commands.Range[float, 1e-9, 1e15], range_low: app_commands.Range[float, 1e-9, 1e15] | None = None,
                      range_high: app_commands.Range[float, 1e-9, 1e15] | None = None):
            span = f"range {range_low:g}-{range_high:g}" if range_low and range_high else None
            await run(i, arg("/il", pair, f"{start_price:f}".rstrip("0").rstrip("."), f"{end_price:f}".rstrip("0").rstrip("."), span))

        @tree.command(name="chart", description=d["chart"])
        @app_commands.describe(position="your position's id", whatif="health factor against price instead of recent prices")
        @app_commands.autocomplete(position=positions)
        async def chart(i: discord.Interaction, position: app_commands.Range[int, 1, MAX_ID], whatif: bool = False,
                        server: bool = False):
            await run(i, arg("/chart", position, "whatif" if whatif else None), server)

        @tree.command(name="export", description=d["export"])
        async def export(i: discord.Interaction, server: bool = False):
            await run(i, "/export", server)

        @tree.command(name="forget", description=d["forget"])
        async def forget(i: discord.Interaction, server: bool = False):
            await run(i, "/forget", server)

