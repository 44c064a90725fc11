"""Assistant: one method per command; text in, a platform-neutral Reply out."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from core.chat import views
from core.chat.alert_commands import AlertCommands
from core.chat.analysis_commands import AnalysisCommands
from core.chat.buttons import ButtonBook, Issued, Refused
from core.chat.commands import COMMANDS, Command, PositionSpec
from core.chat.grammar import MAX_LEGS, Parser
from core.chat.heavy import HeavyWork
from core.chat.progress import PROGRESS
from core.chat.query_commands import QueryCommands
from core.chat.ratelimit import CommandLimiter
from core.errors import (
    CoreError,
    InvalidAmount,
    InvalidChange,
    LimitReached,
    NotPermitted,
    PositionNotFound,
    UnsupportedByProtocol,
)
from core.lending.assets import AssetRegistry
from core.lending.models import Actor, ChatRef, Leg, Owner, Position, Severity
from core.lending.numbers import MAX_AMOUNT, fmt_amount, fmt_hf
from core.lending.protocols import Presets, Terms
from core.lending.valuation import Valuation, value
from core.market.ports import PriceBook, PriceSeries, Yields
from core.ports import ChatAdmins, Clock, NoGroups, PositionEvents
from core.replies import Attachment, Button, Reply, Section, paragraph, text_lines
from core.storage.store import Store
from core.watch.outbox import Outbox

log = logging.getLogger(__name__)

DETAILED_HEALTH_MAX = 3


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


class Assistant(QueryCommands, AlertCommands, AnalysisCommands):
    """Every command of the bot, platform-free; adapters call `handle`."""

    def __init__(self, store: Store, prices: PriceBook, registry: AssetRegistry, presets: Presets, clock: Clock,
                 events: PositionEvents | None = None, admins: ChatAdmins | None = None, outbox: Outbox | None = None,
                 monitor_status: Callable[[], dict[str, float]] | None = None, yields: Yields | None = None,
                 history: PriceSeries | None = None, limiter: CommandLimiter | None = None,
                 heavy: HeavyWork | None = None):
        self.store = store
        self.prices = prices
        self.registry = registry
        self.presets = presets
        self.clock = clock
        self.events = events or NoEvents()  # the monitor, told about every change that concerns warnings
        self.admins = admins or NoGroups()
        self.outbox = outbox
        self.monitor_status = monitor_status  # () -> dict about the last warning tick, for /status
        self.yields = yields  # pools and borrow rates for /yield and /carry; None: the commands say there are none
        self.history = history  # recorded prices for /chart
        self.parser = Parser(registry)
        self.limiter = limiter  # None: no rate limit (the console is one person at a keyboard)
        self.buttons = ButtonBook(store, clock)  # what every button the bot sent stands for
        self.heavy = heavy or HeavyWork()  # charts and backtests, off the event loop and fair across users

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
            return await getattr(self, f"_cmd_{command.name}")(actor, command)
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
            found = self._lookup(actor, cmd.number, cmd.watch) if cmd.number is not None or cmd.watch is not None else None
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
                self.events_wake()
        elif self.outbox.disabled_reason(chat) is None and self.outbox.known(chat):
            self.outbox.disable_destination(chat, reason or "the bot may no longer post there", self.clock.time(), title)
            self.events_wake()

    def stopped_chats(self, platform: str) -> list[str]:
        """Chat ids of the groups on this platform that the bot stopped posting to (for adapters that can re-check)."""
        if self.outbox is None:
            return []
        return [key.split(":", 1)[1] for key, _ in self.outbox.disabled_destinations() if key.startswith(f"{platform}:")]

    def events_wake(self) -> None:
        """New outbox rows: let the dispatcher know (when one runs)."""
        wake = getattr(self.events, "wake", None)
        if callable(wake):
            wake()

    # ---------------------------------------------------------------- helpers

    def _owner(self, actor: Actor) -> Owner:
        """Whose positions plain ids mean here: the group's in a group chat, else the user's own."""
        if actor.acting_for is not None:
            return actor.acting_for
        if actor.chat.is_group:
            return Owner(actor.chat.platform, "group", actor.chat.chat_id)
        return actor.user

    async def _require_admin(self, actor: Actor, doing: str) -> None:
        """Only a group's admins change the group's own positions (asked now, not remembered)."""
        if self._owner(actor).kind == "group" and not await self.admins.is_admin(actor.chat, actor.user, "positions"):
            raise NotPermitted(f"Only this group's admins can {doing}. To track your own positions, message me privately.")

    def _position(self, owner: Owner, number: int) -> Position:
        position = self.store.position(owner, number)
        if position is None:  # someone else's id gets exactly the same answer as a missing one
            whose = "This group has" if owner.kind == "group" else "You have"
            raise PositionNotFound(f"{whose} no position #{number}. /positions lists them.")
        return position

    def _lookup(self, actor: Actor, number: int | None, watch: int | None) -> Position:
        """A plain id (the group's or your own), or a W-number shared into this group."""
        if watch is not None:
            position = self.store.watched(actor.chat, watch) if actor.chat.is_group else None
            if position is None:
                raise PositionNotFound(f"Nothing is shared here as W{watch}. /watching lists what is.")
            return position
        return self._position(self._owner(actor), number)

    def _terms(self, protocol: str, market: str | None, collateral: Iterable[Leg], debt: Iterable[Leg], overrides) -> Terms:
        return self.presets.terms(protocol, market, [c.asset for c in collateral], [d.asset for d in debt], overrides)

    def _check_overrides(self, terms: Terms, overrides) -> None:
        """Refuse options this lender has no use for, rather than store them and silently ignore them."""
        name = views.lender_name(terms)
        unused = [word for word, given, used in (
            ("lltv", overrides.lltv, terms.preset.id == "morpho"),
            ("fee", overrides.fee, terms.preset.id == "liquity-v1"),
            ("margin", overrides.margin_ltv, terms.metric == "ltv"),  # margin calls are a CeFi (and custom) notion
        ) if given is not None and not used]
        if unused:
            raise UnsupportedByProtocol(f"{name} has no {' or '.join(repr(w) for w in unused)} to set.", COMMANDS["add"].usage)

    def _terms_of(self, position: Position) -> Terms:
        return self._terms(position.protocol, position.market, position.collateral, position.debt, position.overrides)

    async def _value(self, position: Position) -> Valuation:
        terms = self._terms_of(position)
        snapshot = await self.prices.snapshot(position.assets())
        return value(terms, position.collateral, position.debt, snapshot, self.registry)

    def _detail(self, title: str, val: Valuation, *, target=None, extra: tuple[Section, ...] = ()) -> Reply:
        """The full health answer shared by /health, /add, /deposit, /withdraw, /borrow and /repay."""
        sections = [views.holdings(val), *extra]
        if val.priced:
            sections.append(views.health(val))
            for section in (views.liquidation_prices(val), views.borrowing(val, target), views.liquidation_cost(val)):
                if section is not None and section.lines:
                    sections.append(section)
        else:
            missing = ", ".join(f"{a} ({why})" for a, why in val.missing.items())
            sections.append(Section("Health", text_lines(
                f"Cannot be valued right now: no price for {missing}.",
                # Said here because the monitor's "paused" notices go only to chats that were being warned already.
                f"Warnings for it start once {', '.join(val.missing)} {'has a' if len(val.missing) == 1 else 'have'} "
                f"trusted price{'s' if len(val.missing) > 1 else ''} again.")))
        return Reply(title, tuple(sections), val.severity, footer=views.price_footer(val, self.clock.time()))

    # ---------------------------------------------------------------- commands

    async def _cmd_add(self, actor: Actor, cmd: Command) -> Reply:
        spec = cmd.spec
        assert spec is not None and spec.protocol is not None
        await self._require_admin(actor, "register the group's positions")
        terms = self._terms(spec.protocol, spec.market, spec.collateral, spec.debt, spec.overrides)
        self._check_overrides(terms, spec.overrides)
        debt, notes = self._opening_debt(terms, spec)
        owner = self._owner(actor)
        position = self.store.add_position(
            owner, terms.preset.id, terms.market.id, spec.collateral, debt, spec.overrides, spec.label
        )
        self.store.set_display_name(owner, actor.name if owner == actor.user else "")
        self.events.position_changed(position.row_id)
        val = await self._value(position)
        if val.priced and val.hf < 1:  # most likely a typo in an amount; stored anyway, since it may be real
            notes.append(f"At today's prices this is liquidatable (health factor {fmt_hf(val.hf)}): check the amounts.")
        title = f"Added {position.ref}: {views.position_summary(position)} on {views.lender_name(terms)}"
        extra = (Section("Note", text_lines(*notes)),) if notes else ()
        return self._detail(title, val, extra=extra)

    def _opening_debt(self, terms: Terms, spec: PositionSpec) -> tuple[tuple[Leg, ...], list[str]]:
        """The debt as the lender books it (Liquity v1 adds its fee and gas reserve), plus notes."""
        params = terms.market.params
        debt = spec.debt
        notes: list[str] = []
        if terms.preset.id == "liquity-v1" and debt:
            fee = spec.overrides.fee if spec.overrides.fee is not None else Decimal(str(params["borrowing_fee"]))
            low, high = (Decimal(x) for x in params["borrowing_fee_range"])
            if not low <= fee <= high:
                raise UnsupportedByProtocol(f"Liquity v1's borrowing fee is between {low:.1%} and {high:.0%}.")
            net = debt[0].amount
            reserve = Decimal(str(params["gas_reserve"]))
            total = net + net * fee + reserve
            debt = (Leg(debt[0].asset, total),)
            notes.append(
                f"Liquity books {fmt_amount(total)} LUSD: {fmt_amount(net)} borrowed + {fmt_amount(net * fee)} "
                f"fee ({fee:.1%}) + {fmt_amount(reserve)} gas reserve."
            )
            if net < Decimal(str(params["min_net_debt"])):
                notes.append(f"Liquity v1 needs at least {fmt_amount(Decimal(str(params['min_net_debt'])))} LUSD net debt.")
        minimum = params.get("min_debt")
        if minimum is not None and debt and debt[0].amount < Decimal(str(minimum)):
            notes.append(f"{views.lender_name(terms)} needs at least {fmt_amount(Decimal(str(minimum)))} {debt[0].asset} of debt.")
        return debt, notes

    async def _cmd_positions(self, actor: Actor, cmd: Command) -> Reply:
        positions = self.store.positions(self._owner(actor))
        if not positions:
            return Reply("You have no positions yet.", paragraph("Try: /add 10 ETH borrow 15000 USDC on aave-v3"))
        lines, worst = [], Severity.INFO
        for position in positions:
            try:
                val = await self._value(position)
            except CoreError as err:
                lines.append(views.compact(position, None, err.message))
                continue
            worst = max(worst, val.severity)
            lines.append(views.compact(position, val))
        return Reply(f"Your positions ({len(positions)})", (Section(None, tuple(lines)),), worst,
                     footer="/health ID for details")

    async def _cmd_health(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        if cmd.number is not None or cmd.watch is not None:
            position = self._lookup(actor, cmd.number, cmd.watch)
            val = await self._value(position)
            ref = f"W{cmd.watch}" if cmd.watch is not None else position.ref
            return self._detail(f"{ref} · {views.lender_name(val.terms)}", val)
        positions = self.store.positions(owner)
        if not positions:
            return Reply("You have no positions yet.", paragraph("Try: /add 10 ETH borrow 15000 USDC on aave-v3"))
        if len(positions) > DETAILED_HEALTH_MAX:
            return await self._cmd_positions(actor, cmd)
        replies = []
        for position in positions:
            val = await self._value(position)
            replies.append(self._detail(f"{position.ref} · {views.lender_name(val.terms)}", val))
        if len(replies) == 1:
            return replies[0]
        sections = []
        for r in replies:
            sections.append(Section(r.title, ()))
            sections.extend(r.sections)
        return Reply(f"Your positions ({len(replies)})", tuple(sections), max(r.severity for r in replies),
                     footer=replies[-1].footer)

    async def _change(self, actor: Actor, cmd: Command) -> Reply:
        await self._require_admin(actor, "change the group's positions")
        position = self._position(self._owner(actor), cmd.number)
        before = await self._value(position)
        collateral = {leg.asset: leg.amount for leg in position.collateral}
        debt = {leg.asset: leg.amount for leg in position.debt}
        side = collateral if cmd.name in ("deposit", "withdraw") else debt
        for leg in cmd.legs:
            if cmd.name in ("deposit", "borrow"):
                amount = leg.amount
                if cmd.name == "borrow" and position.protocol == "liquity-v1":
                    fee = position.overrides.fee or Decimal(str(before.terms.market.params["borrowing_fee"]))
                    amount += leg.amount * fee
                side[leg.asset] = side.get(leg.asset, Decimal(0)) + amount
                if side[leg.asset] > MAX_AMOUNT:
                    raise InvalidAmount(f"That would make {fmt_amount(side[leg.asset])} {leg.asset}, more than this bot "
                                        "handles (1e15).", COMMANDS[cmd.name].usage)
                continue
            held = side.get(leg.asset)
            noun = "hold" if cmd.name == "withdraw" else "owe"
            if held is None:
                raise InvalidChange(f"{position.ref} has no {leg.asset} to {cmd.name}.", COMMANDS[cmd.name].usage)
            if leg.amount > held:
                raise InvalidChange(f"You {noun} only {fmt_amount(held)} {leg.asset} in {position.ref}.", COMMANDS[cmd.name].usage)
            if leg.amount == held:
                del side[leg.asset]
            else:
                side[leg.asset] = held - leg.amount
        new_coll = tuple(Leg(a, amt) for a, amt in collateral.items())
        new_debt = tuple(Leg(a, amt) for a, amt in debt.items())
        if len(new_coll) > MAX_LEGS or len(new_debt) > MAX_LEGS:
            raise LimitReached(f"At most {MAX_LEGS} assets on each side of a position.")
        if not new_coll and new_debt:
            raise InvalidChange("You cannot take out all collateral while you still owe; repay first.", COMMANDS[cmd.name].usage)
        if not new_coll:
            raise InvalidChange(f"That would empty {position.ref}; use /remove {position.number} instead.")
        self._terms(position.protocol, position.market, new_coll, new_debt, position.overrides)  # still a valid position?
        updated = self.store.replace_legs(position, new_coll, new_debt)
        self.events.position_changed(updated.row_id)
        after = await self._value(updated)
        verb = {"deposit": "Deposited", "withdraw": "Withdrew", "borrow": "Borrowed", "repay": "Repaid"}[cmd.name]
        title = f"{verb} {views.legs_text(cmd.legs)} {'into' if cmd.name == 'deposit' else 'on' if cmd.name == 'borrow' else 'from'} {position.ref}"
        notes = []
        if before.priced and after.priced:
            notes.append(f"Health factor {fmt_hf(before.hf)} → {fmt_hf(after.hf)}")
            if after.hf < 1 <= before.hf or (after.hf < 1 and cmd.name in ("withdraw", "borrow")):
                notes.append("The lender would normally refuse this: the position would be liquidatable.")
        elif cmd.name in ("withdraw", "borrow"):
            missing = ", ".join(after.missing or before.missing)
            notes.append(f"No price for {missing} right now, so I could not check what this does to the health factor.")
        return self._detail(title, after, extra=(Section("Change", text_lines(*notes)),) if notes else ())

    _cmd_deposit = _cmd_withdraw = _cmd_borrow = _cmd_repay = _change

    async def _cmd_remove(self, actor: Actor, cmd: Command) -> Reply:
        await self._require_admin(actor, "remove the group's positions")
        owner = self._owner(actor)
        position = self._position(owner, cmd.number)
        if not cmd.confirmed:
            return Reply(
                f"Remove {position.ref} ({views.position_summary(position)})?",
                paragraph(f"This cannot be undone. Send /remove {position.number} yes to confirm."),
                buttons=(Button("Remove it", f"/remove {position.number} yes", position.row_id), Button("Keep it", None)),
            )
        self.store.delete_position(owner, position.number)
        self.events.position_removed(position.row_id)
        return Reply(f"Removed {position.ref}.")

    async def _cmd_export(self, actor: Actor, cmd: Command) -> Reply:
        await self._require_admin(actor, "export the group's data")
        owner = self._owner(actor)
        positions = self.store.positions(owner)
        data = {
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "owner": owner.key,
            "warnings_on": self.store.alerts_enabled(owner),
            "positions": [self._exported(p) for p in positions],
        }
        body = json.dumps(data, indent=2).encode()
        return Reply(
            f"Your data: {len(positions)} position{'s' if len(positions) != 1 else ''}",
            attachment=Attachment("collateral-bot-export.json", body, "application/json"),
        )

    def _exported(self, p: Position) -> dict:
        """Everything stored about one position: legs, lender, overrides, warning options, rate, where it is shared."""
        alerts = self.store.alert_settings(p)
        snoozed = alerts["snoozed_until"]
        return {
            "id": p.number,
            "label": p.label,
            "protocol": p.protocol,
            "market": p.market,
            "collateral": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.collateral],
            "debt": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.debt],
            "overrides": p.overrides.as_dict(),
            "created_at": p.created_at,
            "borrow_apr": self.store.borrow_apr(p),
            "warnings": {
                "on": alerts["enabled"],
                "warn_below_hf": alerts["warn"],  # None: the lender's default
                "danger_below_hf": alerts["critical"],
                "snoozed_until": datetime.fromtimestamp(snoozed, UTC).isoformat(timespec="seconds")
                if snoozed and snoozed > self.clock.time() else None,
            },
            "shared_in": [{"chat": key, "title": title, "as": f"W{number}"} for key, title, number in self.store.shared_in(p)],
        }

    async def _cmd_forget(self, actor: Actor, cmd: Command) -> Reply:
        await self._require_admin(actor, "delete the group's data")
        owner = self._owner(actor)
        if not cmd.confirmed:
            count = len(self.store.positions(owner))
            return Reply(
                f"Delete all your data ({count} position{'s' if count != 1 else ''} and settings)?",
                paragraph("This cannot be undone. Send /forget yes to confirm; /export first keeps a copy."),
                buttons=(Button("Delete everything", "/forget yes"), Button("Keep it", None)),
            )
        gone = [p.row_id for p in self.store.positions(owner)]
        count = self.store.forget(owner)
        for row_id in gone:
            self.events.position_removed(row_id)
        return Reply(f"Done: deleted {count} position{'s' if count != 1 else ''} and everything else about you.")
