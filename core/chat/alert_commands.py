"""Handlers of warnings: /alerts, /snooze, /watch, /unwatch, /watching."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.chain.liquity2 import REDEMPTION_LINE
from core.chat import views
from core.chat.commands import COMMANDS, Command
from core.chat.context import Context
from core.chat.handlers import handles
from core.errors import InvalidAmount, NotPermitted, UsageError
from core.lending.models import Actor, Position
from core.lending.numbers import fmt_hf, fmt_pct
from core.lending.valuation import levels
from core.replies import Line, Reply, Section, paragraph
from core.watch.alerts import Policy


def _span(seconds: float) -> str:
    """A pause in words: '45 min', '12 h', '2 d'."""
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 86400:g} d"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _editable(ctx: Context, actor: Actor, cmd: Command, doing: str) -> Position:
    """The position a warning command is about, if this caller may change it."""
    position = ctx.lookup(actor, cmd.number, cmd.watch)
    if cmd.watch is not None:
        if position.owner != actor.user:
            raise NotPermitted(f"Only the owner of W{cmd.watch} can {doing} it.")
    else:
        await ctx.require_admin(actor, f"{doing} the group's positions")
    return position


def _in_terms(ctx: Context, position: Position, warn: float, critical: float) -> str:
    """'warning below HF 1.50, danger below 1.20' in the lender's own metric too."""
    terms = ctx.terms_of(position)
    text = f"warning below HF {fmt_hf(warn)}, danger below {fmt_hf(critical)}"
    if terms.metric == "ltv" and terms.liquidation_ltv:
        text += f" (LTV above {fmt_pct(terms.liquidation_ltv / warn)} and {fmt_pct(terms.liquidation_ltv / critical)})"
    elif terms.metric == "cr" and terms.min_ratio:
        text += f" (collateral ratio below {fmt_pct(terms.min_ratio * warn)} and {fmt_pct(terms.min_ratio * critical)})"
    return text


def _liquidation_line(ctx: Context, position: Position) -> str:
    """'liquidation above LTV 83.0%' (or a collateral ratio, or HF 1.00): where thresholds must stop."""
    terms = ctx.terms_of(position)
    if terms.metric == "ltv" and terms.liquidation_ltv:
        return f"liquidation above LTV {fmt_pct(terms.liquidation_ltv)}"
    if terms.metric == "cr" and terms.min_ratio:
        return f"liquidation below collateral ratio {fmt_pct(terms.min_ratio)}"
    return "liquidation below HF 1.00"


def _thresholds(ctx: Context, position: Position) -> tuple[float, float, bool]:
    """(warn, critical, custom?) in health-factor terms."""
    settings = ctx.store.alert_settings(position)
    default_warn, default_critical = levels(ctx.terms_of(position))
    warn = settings["warn"] if settings["warn"] is not None else default_warn
    critical = settings["critical"] if settings["critical"] is not None else default_critical
    return warn, critical, settings["warn"] is not None or settings["critical"] is not None


def _as_hf(ctx: Context, position: Position, value: Decimal, percent: bool) -> float:
    """A threshold as typed -> a health factor (percentages are in the lender's metric)."""
    if not percent:
        return float(value)
    terms = ctx.terms_of(position)
    if terms.metric == "ltv" and terms.liquidation_ltv:
        return terms.liquidation_ltv / float(value)
    if terms.metric == "cr" and terms.min_ratio:
        return float(value) / terms.min_ratio
    raise UsageError(f"{terms.preset.name} is measured by its health factor: give numbers like 'warn 1.6'.")


@handles("alerts")
async def _cmd_alerts(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    owner = ctx.owner(actor)
    if cmd.number is None and cmd.watch is None:
        if cmd.switch is not None:
            await ctx.require_admin(actor, "switch the group's warnings")
            ctx.store.set_alerts_enabled(owner, cmd.switch)
            ctx.events.owner_changed(owner)
            state = "on" if cmd.switch else "off"
            return Reply(f"Warnings are {state} for all {'of the group' if owner.kind == 'group' else 'your'} positions.")
        return _alerts_overview(ctx, actor)
    position = await _editable(ctx, actor, cmd, "change warning settings for")
    if cmd.redemption is not None and position.protocol != "liquity-v2":
        raise UsageError(f"{position.ref} is not a Liquity v2 trove: only those are redeemed against by interest rate.",
                         COMMANDS["alerts"].usage)
    if cmd.confirmed:
        ctx.store.update_alert_settings(position, warn=None, critical=None, remind_cap=None, redemption=None)
    elif cmd.switch is not None:
        ctx.store.update_alert_settings(position, enabled=cmd.switch)
    if cmd.remind is not None:
        ctx.store.update_alert_settings(position, remind_cap=float(cmd.remind))
    if cmd.redemption is not None:
        ctx.store.update_alert_settings(position, redemption=float(cmd.redemption))
    if cmd.warn is not None or cmd.critical is not None:
        warn, critical, _ = _thresholds(ctx, position)
        if cmd.warn is not None:
            warn = _as_hf(ctx, position, cmd.warn, cmd.percent)
        if cmd.critical is not None:
            critical = _as_hf(ctx, position, cmd.critical, cmd.percent)
        if not warn > critical > 1:
            # Said back in the terms the user typed: an LTV, a collateral ratio or a health factor.
            raise InvalidAmount(f"The warning must come before the danger level, and both before liquidation "
                                f"(got {_in_terms(ctx, position, warn, critical)}; {_liquidation_line(ctx, position)}).",
                                COMMANDS["alerts"].usage)
        if warn > 100:
            raise InvalidAmount("A warning level above HF 100 would never be quiet.")
        ctx.store.update_alert_settings(position, warn=warn, critical=critical)
    ctx.events.position_changed(position.stored_id)
    return _alerts_of(ctx, position, cmd.watch)


def _alerts_of(ctx: Context, position: Position, watch: int | None = None) -> Reply:
    warn, critical, custom = _thresholds(ctx, position)
    settings = ctx.store.alert_settings(position)
    on = settings["enabled"] and ctx.store.alerts_enabled(position.owner)
    lines = [Line("Thresholds", _in_terms(ctx, position, warn, critical) + ("" if custom else " (defaults)")),
             Line("Reminders", _reminders(settings["remind_cap"])),
             Line("Warnings", "on" if on else "off")]
    if position.protocol == "liquity-v2":
        line = settings["redemption"]
        lines.insert(2, Line("Redemption", f"warn when less than {REDEMPTION_LINE if line is None else line:.1%} of the "
                                           f"branch's debt stands in front{'' if line is not None else ' (default)'}"))
    if settings["snoozed_until"] > ctx.clock.time():
        lines.append(Line("Snoozed until", _when(settings["snoozed_until"])))
    ref = f"W{watch}" if watch is not None else position.ref
    return Reply(f"Warnings for {ref}", (Section(None, tuple(lines)),))


def _reminders(cap: float | None) -> str:
    """How reminders pace themselves for a position with this cap (None: the default)."""
    limit = Policy.remind_cap if cap is None else cap
    return (f"in danger after 60 min, liquidatable after 15 min, each pause then twice the last, up to "
            f"{_span(limit)}{'' if cap is not None else ' (default; /alerts ID remind 4h changes it)'}")


def _alerts_overview(ctx: Context, actor: Actor) -> Reply:
    owner = ctx.owner(actor)
    positions = ctx.store.positions(owner)
    if not positions:
        return Reply("No positions to warn about yet.", paragraph("Add one with /add; warnings then reach this chat."))
    now = ctx.clock.time()
    lines = []
    for p in positions:
        warn, critical, custom = _thresholds(ctx, p)
        settings = ctx.store.alert_settings(p)
        state = "on" if settings["enabled"] else "off"
        if settings["snoozed_until"] > now:
            state += f", snoozed until {_when(settings['snoozed_until'])}"
        lines.append(Line(p.ref, f"{_in_terms(ctx, p, warn, critical)}{'' if custom else ' (defaults)'} · {state}"))
    master = "on" if ctx.store.alerts_enabled(owner) else "OFF for every position (/alerts on)"
    return Reply("Warning settings", (Section(None, tuple(lines)),),
                 footer=f"Warnings: {master}. Reminders in danger after 60 min, when liquidatable after 15 min, "
                        f"then each pause twice the last, up to {_span(Policy.remind_cap)} unless set per position.")


@handles("snooze")
async def _cmd_snooze(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    now = ctx.clock.time()
    until = now + cmd.seconds if cmd.seconds else 0.0
    if cmd.everything:
        await ctx.require_admin(actor, "snooze the group's positions")
        positions = ctx.store.positions(ctx.owner(actor))
        if not positions:
            return Reply("There are no positions to snooze yet.", paragraph("Add one with /add first."))
    else:
        positions = [await _editable(ctx, actor, cmd, "snooze")]
    for position in positions:
        ctx.store.update_alert_settings(position, snoozed_until=until)
        ctx.events.position_changed(position.stored_id)
    what = "every position" if cmd.everything else (f"W{cmd.watch}" if cmd.watch is not None else positions[0].ref)
    if not until:
        return Reply(f"Warnings for {what} are back on.")
    return Reply(f"Snoozed {what} until {_when(until)}.",
                 paragraph("Becoming liquidatable still reaches you; /snooze ID off ends it early."))


@handles("watch")
async def _cmd_watch(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if not actor.chat.is_group:
        raise UsageError("Use /watch in the group that should receive the warnings.")
    position = ctx.store.position(actor.user, cmd.id)
    if position is None:
        raise NotPermitted(f"You have no position #{cmd.number}. Only your own positions can be shared (message me to add one).")
    ctx.store.set_display_name(actor.user, actor.name)
    number, new = ctx.store.add_watch(actor.chat, position, actor.chat_title)
    notes = [f"/unwatch W{number} stops it; you or an admin can do that."]
    stopped = ctx.outbox.disabled_reason(actor.chat) if ctx.outbox is not None else None
    if actor.may_post is False:  # the platform says the bot cannot post here: say so instead of a promise
        notes.insert(0, "I cannot post in this channel right now (I need permission to view it, send messages and "
                        "embed links): its warnings start once I can.")
    elif stopped is not None and ctx.outbox is not None:  # answering here shows the bot may post: /watch restarts it
        ctx.outbox.enable_destination(actor.chat, actor.chat_title)
        ctx.events_wake()
        notes.insert(0, f"Warnings here had stopped ({stopped}); they restart now.")
    val = await ctx.value_of(position)
    health = f"HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else "no price right now"
    verb = "now sends its warnings here" if new else "already sends its warnings here"
    return Reply(f"W{number}: your #{position.number} ({views.lender_name(val.terms)}, {health}) {verb}.",
                 paragraph(*notes))


@handles("unwatch")
async def _cmd_unwatch(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if not actor.chat.is_group:
        raise UsageError("Use /unwatch in the group that receives the warnings.")
    if cmd.watch is not None:
        position = ctx.lookup(actor, None, cmd.watch)
        if position.owner != actor.user and not await ctx.admins.is_admin(actor.chat, actor.user, "sharing"):
            raise NotPermitted(f"Only the owner of W{cmd.watch} or a group admin can stop sharing it.")
        label = f"W{cmd.watch}"
    else:
        mine = ctx.store.position(actor.user, cmd.id)
        if mine is None or ctx.store.watch_number(actor.chat, mine) is None:
            raise NotPermitted(f"Your #{cmd.number} is not shared here. /watching lists what is.")
        position, label = mine, f"your #{cmd.number}"
    ctx.store.remove_watch(actor.chat, position)
    return Reply(f"This group no longer receives warnings for {label}.")


@handles("watching")
async def _cmd_watching(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if not actor.chat.is_group:
        raise UsageError("Use /watching in a group: it lists what that group receives.")
    watches = ctx.store.watches_in(actor.chat)
    own = ctx.store.positions(ctx.owner(actor))
    lines = []
    for number, position, who in watches:
        val = await ctx.value_of(position)
        health = f"HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else "no price"
        lines.append(Line(f"W{number}", f"{who}'s #{position.number} · {views.lender_name(val.terms)} · {health}"))
    for position in own:
        lines.append(Line(position.ref, f"the group's own · {views.position_summary(position)}"))
    if not lines:
        return Reply("This group receives no warnings yet.", paragraph("Members share theirs with /watch ID; admins add the group's own with /add."))
    return Reply("Warnings this group receives", (Section(None, tuple(lines)),))
