"""Commands about warnings: /alerts, /snooze, /watch, /unwatch, /watching (mixed into the Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.chat import views
from core.chat.commands import COMMANDS, Command
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


class AlertCommands:
    """Needs from the Assistant: store, events, clock, _owner, _lookup, _require_admin, _terms_of, _value."""

    async def _editable(self, actor: Actor, cmd: Command, doing: str) -> Position:
        """The position a warning command is about, if this caller may change it."""
        position = self._lookup(actor, cmd.number, cmd.watch)
        if cmd.watch is not None:
            if position.owner != actor.user:
                raise NotPermitted(f"Only the owner of W{cmd.watch} can {doing} it.")
        else:
            await self._require_admin(actor, f"{doing} the group's positions")
        return position

    def _in_terms(self, position: Position, warn: float, critical: float) -> str:
        """'warning below HF 1.50, danger below 1.20' in the lender's own metric too."""
        terms = self._terms_of(position)
        text = f"warning below HF {fmt_hf(warn)}, danger below {fmt_hf(critical)}"
        if terms.metric == "ltv" and terms.liquidation_ltv:
            text += f" (LTV above {fmt_pct(terms.liquidation_ltv / warn)} and {fmt_pct(terms.liquidation_ltv / critical)})"
        elif terms.metric == "cr" and terms.min_ratio:
            text += f" (collateral ratio below {fmt_pct(terms.min_ratio * warn)} and {fmt_pct(terms.min_ratio * critical)})"
        return text

    def _liquidation_line(self, position: Position) -> str:
        """'liquidation above LTV 83.0%' (or a collateral ratio, or HF 1.00): where thresholds must stop."""
        terms = self._terms_of(position)
        if terms.metric == "ltv" and terms.liquidation_ltv:
            return f"liquidation above LTV {fmt_pct(terms.liquidation_ltv)}"
        if terms.metric == "cr" and terms.min_ratio:
            return f"liquidation below collateral ratio {fmt_pct(terms.min_ratio)}"
        return "liquidation below HF 1.00"

    def _thresholds(self, position: Position) -> tuple[float, float, bool]:
        """(warn, critical, custom?) in health-factor terms."""
        settings = self.store.alert_settings(position)
        default_warn, default_critical = levels(self._terms_of(position))
        warn = settings["warn"] if settings["warn"] is not None else default_warn
        critical = settings["critical"] if settings["critical"] is not None else default_critical
        return warn, critical, settings["warn"] is not None or settings["critical"] is not None

    def _as_hf(self, position: Position, value: Decimal, percent: bool) -> float:
        """A threshold as typed -> a health factor (percentages are in the lender's metric)."""
        if not percent:
            return float(value)
        terms = self._terms_of(position)
        if terms.metric == "ltv" and terms.liquidation_ltv:
            return terms.liquidation_ltv / float(value)
        if terms.metric == "cr" and terms.min_ratio:
            return float(value) / terms.min_ratio
        raise UsageError(f"{terms.preset.name} is measured by its health factor: give numbers like 'warn 1.6'.")

    async def _cmd_alerts(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        if cmd.number is None and cmd.watch is None:
            if cmd.switch is not None:
                await self._require_admin(actor, "switch the group's warnings")
                self.store.set_alerts_enabled(owner, cmd.switch)
                self.events.owner_changed(owner)
                state = "on" if cmd.switch else "off"
                return Reply(f"Warnings are {state} for all {'of the group' if owner.kind == 'group' else 'your'} positions.")
            return self._alerts_overview(actor)
        position = await self._editable(actor, cmd, "change warning settings for")
        if cmd.confirmed:
            self.store.update_alert_settings(position, warn=None, critical=None, remind_cap=None)
        elif cmd.switch is not None:
            self.store.update_alert_settings(position, enabled=cmd.switch)
        if cmd.remind is not None:
            self.store.update_alert_settings(position, remind_cap=float(cmd.remind))
        if cmd.warn is not None or cmd.critical is not None:
            warn, critical, _ = self._thresholds(position)
            if cmd.warn is not None:
                warn = self._as_hf(position, cmd.warn, cmd.percent)
            if cmd.critical is not None:
                critical = self._as_hf(position, cmd.critical, cmd.percent)
            if not warn > critical > 1:
                # Said back in the terms the user typed: an LTV, a collateral ratio or a health factor.
                raise InvalidAmount(f"The warning must come before the danger level, and both before liquidation "
                                    f"(got {self._in_terms(position, warn, critical)}; {self._liquidation_line(position)}).",
                                    COMMANDS["alerts"].usage)
            if warn > 100:
                raise InvalidAmount("A warning level above HF 100 would never be quiet.")
            self.store.update_alert_settings(position, warn=warn, critical=critical)
        self.events.position_changed(position.row_id)
        return self._alerts_of(position, cmd.watch)

    def _alerts_of(self, position: Position, watch: int | None = None) -> Reply:
        warn, critical, custom = self._thresholds(position)
        settings = self.store.alert_settings(position)
        on = settings["enabled"] and self.store.alerts_enabled(position.owner)
        lines = [Line("Thresholds", self._in_terms(position, warn, critical) + ("" if custom else " (defaults)")),
                 Line("Reminders", self._reminders(settings["remind_cap"])),
                 Line("Warnings", "on" if on else "off")]
        if settings["snoozed_until"] > self.clock.time():
            lines.append(Line("Snoozed until", _when(settings["snoozed_until"])))
        ref = f"W{watch}" if watch is not None else position.ref
        return Reply(f"Warnings for {ref}", (Section(None, tuple(lines)),))

    @staticmethod
    def _reminders(cap: float | None) -> str:
        """How reminders pace themselves for a position with this cap (None: the default)."""
        limit = Policy.remind_cap if cap is None else cap
        return (f"in danger after 60 min, liquidatable after 15 min, each pause then twice the last, up to "
                f"{_span(limit)}{'' if cap is not None else ' (default; /alerts ID remind 4h changes it)'}")

    def _alerts_overview(self, actor: Actor) -> Reply:
        owner = self._owner(actor)
        positions = self.store.positions(owner)
        if not positions:
            return Reply("No positions to warn about yet.", paragraph("Add one with /add; warnings then reach this chat."))
        now = self.clock.time()
        lines = []
        for p in positions:
            warn, critical, custom = self._thresholds(p)
            settings = self.store.alert_settings(p)
            state = "on" if settings["enabled"] else "off"
            if settings["snoozed_until"] > now:
                state += f", snoozed until {_when(settings['snoozed_until'])}"
            lines.append(Line(p.ref, f"{self._in_terms(p, warn, critical)}{'' if custom else ' (defaults)'} · {state}"))
        master = "on" if self.store.alerts_enabled(owner) else "OFF for every position (/alerts on)"
        return Reply("Warning settings", (Section(None, tuple(lines)),),
                     footer=f"Warnings: {master}. Reminders in danger after 60 min, when liquidatable after 15 min, "
                            f"then each pause twice the last, up to {_span(Policy.remind_cap)} unless set per position.")

    async def _cmd_snooze(self, actor: Actor, cmd: Command) -> Reply:
        now = self.clock.time()
        until = now + cmd.seconds if cmd.seconds else 0.0
        if cmd.everything:
            await self._require_admin(actor, "snooze the group's positions")
            positions = self.store.positions(self._owner(actor))
            if not positions:
                return Reply("There are no positions to snooze yet.", paragraph("Add one with /add first."))
        else:
            positions = [await self._editable(actor, cmd, "snooze")]
        for position in positions:
            self.store.update_alert_settings(position, snoozed_until=until)
            self.events.position_changed(position.row_id)
        what = "every position" if cmd.everything else (f"W{cmd.watch}" if cmd.watch is not None else positions[0].ref)
        if not until:
            return Reply(f"Warnings for {what} are back on.")
        return Reply(f"Snoozed {what} until {_when(until)}.",
                     paragraph("Becoming liquidatable still reaches you; /snooze ID off ends it early."))

    async def _cmd_watch(self, actor: Actor, cmd: Command) -> Reply:
        if not actor.chat.is_group:
            raise UsageError("Use /watch in the group that should receive the warnings.")
        position = self.store.position(actor.user, cmd.number)
        if position is None:
            raise NotPermitted(f"You have no position #{cmd.number}. Only your own positions can be shared (message me to add one).")
        self.store.set_display_name(actor.user, actor.name)
        number, new = self.store.add_watch(actor.chat, position, actor.chat_title)
        notes = [f"/unwatch W{number} stops it; you or an admin can do that."]
        stopped = self.outbox.disabled_reason(actor.chat) if self.outbox is not None else None
        if actor.may_post is False:  # the platform says the bot cannot post here: say so instead of a promise
            notes.insert(0, "I cannot post in this channel right now (I need permission to view it, send messages and "
                            "embed links): its warnings start once I can.")
        elif stopped is not None:  # answering here shows the bot may post again: the owner's /watch restarts it
            self.outbox.enable_destination(actor.chat, actor.chat_title)
            self.events_wake()
            notes.insert(0, f"Warnings here had stopped ({stopped}); they restart now.")
        val = await self._value(position)
        health = f"HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else "no price right now"
        verb = "now sends its warnings here" if new else "already sends its warnings here"
        return Reply(f"W{number}: your #{position.number} ({views.lender_name(val.terms)}, {health}) {verb}.",
                     paragraph(*notes))

    async def _cmd_unwatch(self, actor: Actor, cmd: Command) -> Reply:
        if not actor.chat.is_group:
            raise UsageError("Use /unwatch in the group that receives the warnings.")
        if cmd.watch is not None:
            position = self._lookup(actor, None, cmd.watch)
            if position.owner != actor.user and not await self.admins.is_admin(actor.chat, actor.user, "sharing"):
                raise NotPermitted(f"Only the owner of W{cmd.watch} or a group admin can stop sharing it.")
            label = f"W{cmd.watch}"
        else:
            position = self.store.position(actor.user, cmd.number)
            if position is None or self.store.watch_number(actor.chat, position) is None:
                raise NotPermitted(f"Your #{cmd.number} is not shared here. /watching lists what is.")
            label = f"your #{cmd.number}"
        self.store.remove_watch(actor.chat, position)
        return Reply(f"This group no longer receives warnings for {label}.")

    async def _cmd_watching(self, actor: Actor, cmd: Command) -> Reply:
        if not actor.chat.is_group:
            raise UsageError("Use /watching in a group: it lists what that group receives.")
        watches = self.store.watches_in(actor.chat)
        own = self.store.positions(self._owner(actor))
        lines = []
        for number, position, who in watches:
            val = await self._value(position)
            health = f"HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else "no price"
            lines.append(Line(f"W{number}", f"{who}'s #{position.number} · {views.lender_name(val.terms)} · {health}"))
        for position in own:
            lines.append(Line(position.ref, f"the group's own · {views.position_summary(position)}"))
        if not lines:
            return Reply("This group receives no warnings yet.", paragraph("Members share theirs with /watch ID; admins add the group's own with /add."))
        return Reply("Warnings this group receives", (Section(None, tuple(lines)),))
