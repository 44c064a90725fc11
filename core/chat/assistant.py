"""Assistant: text in, a platform-neutral Reply out, through the command handlers registered in core.chat.handlers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

# The handler modules register their commands when imported.
from core.chat import (  # noqa: F401
    alert_commands,
    analysis_commands,
    chain_commands,
    mining_commands,
    position_commands,
    query_commands,
    risk_commands,
    views,
)
from core.chat.buttons import Issued, Refused
from core.chat.commands import COMMANDS
from core.chat.context import Context
from core.chat.handlers import HANDLERS
from core.chat.heavy import HeavyWork
from core.chat.progress import PROGRESS
from core.chat.query_commands import pulse
from core.chat.ratelimit import CommandLimiter
from core.errors import (
    CoreError,
)
from core.lending.assets import AssetRegistry
from core.lending.models import Actor, ChatRef, Owner
from core.lending.protocols import Presets
from core.market.ports import PriceBook, PriceSeries, Yields
from core.ports import ChatAdmins, Clock, NoGroups, PositionEvents
from core.replies import Reply, paragraph
from core.storage.store import Store
from core.watch.outbox import Outbox

log = logging.getLogger(__name__)


def _service(name: str) -> property:
    """An attribute of the Assistant that is its context's service of that name."""
    return property(lambda self: getattr(self.ctx, name), lambda self, value: setattr(self.ctx, name, value))


class NoEvents:
    """Where nobody listens for position changes (tests of the commands alone)."""

    def position_changed(self, row_id: int) -> None:
        """Ignored."""

    def position_removed(self, row_id: int) -> None:
        """Ignored."""

    def owner_changed(self, owner: Owner) -> None:
        """Ignored."""


@dataclass(frozen=True)
class Pressed:
    """What a button press came to, and what the adapter should do with the message it was on."""

    reply: Reply
    action: str  # "refused" (a pop-up, nothing changed), "dismiss" (drop the buttons), "confirm" (the question
    # becomes its answer), "show" (send the reply), "notify" (a pop-up with the reply's title)


class Assistant:
    """Every command of the bot, platform-free: adapters call `handle` and `press`; the handlers get `ctx`."""

    def __init__(self, store: Store, prices: PriceBook, registry: AssetRegistry, presets: Presets, clock: Clock,
                 events: PositionEvents | None = None, admins: ChatAdmins | None = None, outbox: Outbox | None = None,
                 monitor_status: Callable[[], dict[str, float]] | None = None, yields: Yields | None = None,
                 history: PriceSeries | None = None, limiter: CommandLimiter | None = None,
                 heavy: HeavyWork | None = None):
        self.ctx = Context(store, prices, registry, presets, clock, events or NoEvents(), admins or NoGroups(), outbox,
                           monitor_status, yields, history, heavy or HeavyWork())
        self.limiter = limiter  # None: no rate limit (the console is one person at a keyboard)

    # The services, as attributes: the composition root and tests set some after building (admins, yields).
    store = _service("store")
    prices = _service("prices")
    registry = _service("registry")
    presets = _service("presets")
    clock = _service("clock")
    events = _service("events")
    admins = _service("admins")
    outbox = _service("outbox")
    monitor_status = _service("monitor_status")
    yields = _service("yields")
    history = _service("history")
    heavy = _service("heavy")
    tracker = _service("tracker")
    mining = _service("mining")
    parser = _service("parser")
    buttons = _service("buttons")

    async def handle(self, actor: Actor, text: str, progress: Callable[[str], Awaitable[None]] | None = None) -> Reply:
        """Parse and run one command; every failure becomes a short reply, never a traceback.

        `progress` says something to the user while the command still runs (its heavy work is queued)."""
        PROGRESS.set(progress)
        if self.limiter is not None:
            verdict = self.limiter.check(actor)
            if not verdict.allowed:
                reply = Reply.failure(f"That is more commands than I take in a minute: please wait {verdict.wait} s.")
                return replace(reply, silent=not verdict.tell)
        command = None
        try:
            command = self.parser.parse(text)
            return await HANDLERS[command.name](self.ctx, actor, command)
        except CoreError as err:
            usage = err.usage or (COMMANDS[command.name].usage if command else None)
            return Reply.failure(err.message, usage)
        except Exception:
            ref = secrets.token_hex(3)
            log.exception("command failed (ref %s)", ref)
            return Reply.failure(f"Something went wrong on my side (ref {ref}). Please try again in a moment.")

    async def press(self, actor: Actor, token: str, message_id: object) -> Pressed:
        """A button press: run what the bot issued on that message, for that presser, on that very position, or nothing."""
        try:
            issued = self.buttons.redeem(token, actor.chat, message_id, actor.user)
            if issued.command is None:
                self.buttons.spend(issued)
                return Pressed(Reply("OK"), "dismiss")
            if issued.scope == "g" and actor.chat.is_group:
                actor = replace(actor, acting_for=Owner(actor.chat.platform, "group", actor.chat.chat_id))
            elif issued.scope == "u":
                actor = replace(actor, acting_for=actor.user)
            if issued.position_id is not None:
                self._check_pin(actor, issued)
        except Refused as err:
            return Pressed(Reply.failure(str(err)), "refused")
        reply = await self.handle(actor, issued.command)
        if reply.error:
            return Pressed(reply, "refused")
        if issued.confirms:
            self.buttons.spend(issued)
            return Pressed(reply, "confirm")
        return Pressed(reply, "show" if issued.command.startswith("/health") else "notify")

    def _check_pin(self, actor: Actor, issued: Issued) -> None:
        """The command's position must still be the one the button was made for (numbers and W-numbers move on)."""
        try:
            cmd = self.parser.parse(issued.command)
            found = self.ctx.lookup(actor, cmd.number, cmd.watch) if cmd.number is not None or cmd.watch is not None else None
        except CoreError:
            found = None
        if found is None or found.row_id != issued.position_id:
            raise Refused("That button was for a position that is gone or now has another number; it no longer works.")

    def welcome_back(self, actor: Actor) -> Reply | None:
        """The user talks to the bot again: a direct-message destination stopped by a refusal is tried again, and they
        are told, privately, what they missed. Only their own DM, so nothing private reaches a group.

        On Telegram only a message in that private chat counts (a block is lifted there); on Discord any interaction
        does, since DMs closed to a server's members open again by a setting the bot never hears of.
        """
        if self.outbox is None or (actor.chat.is_group and actor.user.platform != "discord"):
            return None
        dm = ChatRef(actor.user.platform, actor.user.id)
        reason = self.outbox.enable_destination(dm)
        if reason is None:
            return None
        log.info("re-enabled the direct messages of %s", dm.key)
        hint = " If your privacy settings still close DMs from server members, open them for this server." \
            if actor.user.platform == "discord" else ""
        return Reply("Your warnings reach your direct messages again.",
                     paragraph(f"I could not message you before ({reason}), so warnings sent meanwhile did not reach you; "
                               f"/positions shows where things stand.{hint}"))

    def chat_access(self, chat: ChatRef, may_post: bool, title: str | None = None, reason: str = "") -> None:
        """The platform says whether the bot may post in a group now (added back, permissions changed, removed)."""
        if self.outbox is None or not chat.is_group:
            return
        if may_post:
            if self.outbox.enable_destination(chat, title, tell=True) is not None:
                log.info("may post in %s again: its warnings restart", chat.key)
                self.ctx.events_wake()
        elif self.outbox.disabled_reason(chat) is None and self.outbox.known(chat):
            self.outbox.disable_destination(chat, reason or "the bot may no longer post there", self.clock.time(), title)
            self.ctx.events_wake()

    def stopped_chats(self, platform: str) -> list[str]:
        """Chat ids of the groups on this platform that the bot stopped posting to (for adapters that can re-check)."""
        if self.outbox is None:
            return []
        return [key.split(":", 1)[1] for key, _ in self.outbox.disabled_destinations() if key.startswith(f"{platform}:")]

    def pulse(self, actor: Actor) -> str | None:
        """One line on the owner's positions at the prices known now (the replay ticker); None if none."""
        return pulse(self.ctx, actor)

    def _owner(self, actor: Actor) -> Owner:
        """Whose positions plain ids mean for this actor (see Context.owner)."""
        return self.ctx.owner(actor)

