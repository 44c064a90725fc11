"""Assistant: one method per command; text in, a platform-neutral Reply out."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal

from . import help as help_text
from . import risk, views
from .assets import AssetRegistry
from .errors import CoreError, InvalidChange, LimitReached, PositionNotFound, UnsupportedByProtocol
from .grammar import COMMANDS, MAX_LEGS, Command, Parser, PositionSpec
from .models import Actor, Leg, Owner, Position, Severity
from .numbers import fmt_amount, fmt_hf, fmt_usd
from .ports import Clock, PriceBook
from .protocols import Presets, Terms
from .replies import Attachment, Button, Line, Reply, Section, paragraph, text_lines
from .store import Store
from .valuation import Valuation, severity_for, shock_multipliers, value

log = logging.getLogger(__name__)

DETAILED_HEALTH_MAX = 3


class Assistant:
    """Every command of the bot, platform-free; adapters call `handle`."""

    def __init__(self, store: Store, prices: PriceBook, registry: AssetRegistry, presets: Presets, clock: Clock):
        self.store = store
        self.prices = prices
        self.registry = registry
        self.presets = presets
        self.clock = clock
        self.parser = Parser(registry)

    async def handle(self, actor: Actor, text: str) -> Reply:
        """Parse and run one command; every failure becomes a short reply, never a traceback."""
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

    # ---------------------------------------------------------------- helpers

    def _owner(self, actor: Actor) -> Owner:
        return actor.user

    def _position(self, owner: Owner, number: int) -> Position:
        position = self.store.position(owner, number)
        if position is None:  # someone else's id gets exactly the same answer as a missing one
            raise PositionNotFound(f"You have no position #{number}. /positions lists yours.")
        return position

    def _terms(self, protocol: str, market: str | None, collateral: Iterable[Leg], debt: Iterable[Leg], overrides) -> Terms:
        return self.presets.terms(protocol, market, [c.asset for c in collateral], [d.asset for d in debt], overrides)

    def _terms_of(self, position: Position) -> Terms:
        return self._terms(position.protocol, position.market, position.collateral, position.debt, position.overrides)

    async def _value(self, position: Position) -> Valuation:
        terms = self._terms_of(position)
        snapshot = await self.prices.snapshot(position.assets())
        return value(terms, position.collateral, position.debt, snapshot, self.registry)

    def _detail(self, title: str, val: Valuation, *, target=None, extra: tuple[Section, ...] = ()) -> Reply:
        """The full health answer shared by /health, /add and /capacity."""
        sections = [views.holdings(val), *extra]
        if val.priced:
            sections.append(views.health(val))
            for section in (views.liquidation_prices(val), views.borrowing(val, target), views.liquidation_cost(val)):
                if section is not None and section.lines:
                    sections.append(section)
        else:
            missing = ", ".join(f"{a} ({why})" for a, why in val.missing.items())
            sections.append(Section("Health", text_lines(f"Cannot be valued right now: no price for {missing}.")))
        return Reply(title, tuple(sections), val.severity, footer=views.price_footer(val, self.clock.time()))

    # ---------------------------------------------------------------- commands

    async def _cmd_start(self, actor: Actor, cmd: Command) -> Reply:
        return help_text.start()

    async def _cmd_help(self, actor: Actor, cmd: Command) -> Reply:
        return help_text.command(cmd.topic) if cmd.topic else help_text.overview()

    async def _cmd_add(self, actor: Actor, cmd: Command) -> Reply:
        spec = cmd.spec
        assert spec is not None and spec.protocol is not None
        terms = self._terms(spec.protocol, spec.market, spec.collateral, spec.debt, spec.overrides)
        debt, notes = self._opening_debt(terms, spec)
        owner = self._owner(actor)
        position = self.store.add_position(
            owner, terms.preset.id, terms.market.id, spec.collateral, debt, spec.overrides, spec.label
        )
        val = await self._value(position)
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
        if cmd.number is not None:
            position = self._position(owner, cmd.number)
            val = await self._value(position)
            return self._detail(f"{position.ref} · {views.lender_name(val.terms)}", val)
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
        after = await self._value(updated)
        verb = {"deposit": "Deposited", "withdraw": "Withdrew", "borrow": "Borrowed", "repay": "Repaid"}[cmd.name]
        title = f"{verb} {views.legs_text(cmd.legs)} {'into' if cmd.name == 'deposit' else 'on' if cmd.name == 'borrow' else 'from'} {position.ref}"
        notes = []
        if before.priced and after.priced:
            notes.append(f"Health factor {fmt_hf(before.hf)} → {fmt_hf(after.hf)}")
            if after.hf < 1 <= before.hf or (after.hf < 1 and cmd.name in ("withdraw", "borrow")):
                notes.append("The lender would normally refuse this: the position would be liquidatable.")
        return self._detail(title, after, extra=(Section("Change", text_lines(*notes)),) if notes else ())

    _cmd_deposit = _cmd_withdraw = _cmd_borrow = _cmd_repay = _change

    async def _cmd_remove(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        position = self._position(owner, cmd.number)
        if not cmd.confirmed:
            return Reply(
                f"Remove {position.ref} ({views.position_summary(position)})?",
                paragraph(f"This cannot be undone. Send /remove {position.number} yes to confirm."),
                buttons=(Button("Remove it", f"/remove {position.number} yes"), Button("Keep it", None)),
            )
        self.store.delete_position(owner, position.number)
        return Reply(f"Removed {position.ref}.")

    async def _cmd_capacity(self, actor: Actor, cmd: Command) -> Reply:
        target = (cmd.target.kind, float(cmd.target.value)) if cmd.target else None
        if cmd.spec is not None:
            spec = cmd.spec
            terms = self._terms(spec.protocol, spec.market, spec.collateral, spec.debt, spec.overrides)
            debt, _ = self._opening_debt(terms, spec)
            assets = {leg.asset for leg in spec.collateral + debt}
            val = value(terms, spec.collateral, debt, await self.prices.snapshot(assets), self.registry)
            what = views.legs_text(spec.collateral) + (f" borrowing {views.legs_text(debt)}" if debt else "")
            return self._capacity_reply(f"With {what} on {views.lender_name(terms)}", val, target)
        owner = self._owner(actor)
        positions = [self._position(owner, cmd.number)] if cmd.number is not None else self.store.positions(owner)
        if not positions:
            return Reply("You have no positions yet.", paragraph("Try: /capacity 10 ETH on aave-v3"))
        sections, worst, footer = [], Severity.INFO, None
        for position in positions:
            val = await self._value(position)
            reply = self._capacity_reply(f"{position.ref} · {views.lender_name(val.terms)}", val, target)
            if len(positions) == 1:
                return reply
            sections.append(Section(reply.title, tuple(line for s in reply.sections for line in s.lines)))
            worst, footer = max(worst, val.severity), reply.footer
        return Reply("How much more you can borrow", tuple(sections), worst, footer=footer)

    def _capacity_reply(self, title: str, val: Valuation, target) -> Reply:
        if target and target[0] == "cr" and val.terms.metric != "cr":
            raise UnsupportedByProtocol("Collateral-ratio targets apply to Maker and Liquity; use 'hf 1.5' or 'ltv 60%'.")
        if not val.priced:
            missing = ", ".join(f"{a} ({why})" for a, why in val.missing.items())
            return Reply(title, paragraph(f"No price for {missing}, so no capacity can be worked out now."))
        section = views.borrowing(val, target)
        kind, level = target or ("hf", val.levels[0])
        room = val.capacity_to(kind, level)
        words = (
            f"You can borrow {views.in_units(val, room)} more and keep the {views.target_label(val, kind, level)}."
            if room > 0
            else f"You are already past the {views.target_label(val, kind, level)}: borrowing more is not advised."
        )
        health = Line("Health factor now", f"{fmt_hf(val.hf)} · {views.STATUS[val.severity]}")
        return Reply(title, (Section(None, (Line("", words), health)), section), val.severity,
                     footer=views.price_footer(val, self.clock.time()))

    async def _cmd_whatif(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        positions = [self._position(owner, cmd.number)] if cmd.number is not None else self.store.positions(owner)
        if not positions:
            return Reply("You have no positions to test.", paragraph("Add one first: /add 10 ETH borrow 15000 USDC on aave-v3"))
        moves = {s.asset: s.move for s in cmd.shocks if s.move is not None}
        targets = {s.asset: s.price for s in cmd.shocks if s.price is not None}
        assets = set().union(*(p.assets() for p in positions)) | set(targets)
        snapshot = await self.prices.snapshot(assets)
        prices = {a: q.price for a, q in snapshot.quotes.items()}
        for asset in targets:
            if asset not in prices:
                return Reply.failure(f"No price for {asset} right now, so a target price cannot be turned into a move.")
        title = "What if " + ", ".join(
            f"{s.asset} {'%+.1f%%' % (s.move * 100) if s.move is not None else 'at ' + fmt_usd(float(s.price))}" for s in cmd.shocks
        )
        lines, worst, liquidated = [], Severity.INFO, 0
        for position in positions:
            terms = self._terms_of(position)
            val = value(terms, position.collateral, position.debt, snapshot, self.registry)
            if not val.priced:
                lines.append(Line(position.ref, f"no price for {', '.join(val.missing)}"))
                continue
            mult = shock_multipliers(position.assets(), moves, prices, targets, self.registry)
            if terms.preset.debt_at_par:  # the lender keeps counting its stable debt at $1
                mult = {a: m for a, m in mult.items() if not (a in {d.asset for d in position.debt} and self.registry.get(a).stable)}
            shocked = risk.stressed(val.exposure, mult)
            hf_after = risk.health_factor(shocked)
            sev = severity_for(hf_after, *val.levels)
            worst = max(worst, sev)
            liquidated += sev == Severity.LIQUIDATABLE
            status = "LIQUIDATED" if sev == Severity.LIQUIDATABLE else views.STATUS[sev]
            lines.append(Line(position.ref, f"HF {fmt_hf(val.hf)} → {fmt_hf(hf_after)} · {status} ({views.lender_name(terms)})"))
        summary = (
            f"{liquidated} of {len(positions)} position{'s' if len(positions) != 1 else ''} would be liquidated."
            if liquidated
            else "None would be liquidated."
        )
        return Reply(title, (Section(None, tuple(lines)), Section(None, text_lines(summary))), worst)

    async def _cmd_price(self, actor: Actor, cmd: Command) -> Reply:
        symbols = list(cmd.assets)
        if not symbols:
            held = set().union(*(p.assets() for p in self.store.positions(self._owner(actor))))
            symbols = sorted(a for a in held if not self.registry.get(a).stable) or ["BTC", "ETH"]
        snapshot = await self.prices.snapshot(symbols)
        lines = [views.quote_line(symbol, snapshot, self.clock.time()) for symbol in symbols]
        worst = Severity.WARNING if any(q.trusted is False for q in snapshot.quotes.values()) or snapshot.missing else Severity.INFO
        return Reply("Prices", (Section(None, tuple(lines)),), worst)

    async def _cmd_status(self, actor: Actor, cmd: Command) -> Reply:
        return views.status(self.prices.status(), self.clock.time())

    def pulse(self, actor: Actor) -> str | None:
        """One line on the owner's positions at the prices known now (the replay ticker); None if none."""
        positions = self.store.positions(self._owner(actor))
        if not positions:
            return None
        assets = set().union(*(p.assets() for p in positions))
        snapshot = self.prices.quotes(assets)
        parts = []
        for position in positions:
            terms = self._terms_of(position)
            val = value(terms, position.collateral, position.debt, snapshot, self.registry)
            parts.append(f"{position.ref} HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else f"{position.ref} no price")
        return " · ".join(parts)

    async def _cmd_protocols(self, actor: Actor, cmd: Command) -> Reply:
        if cmd.topic:
            return help_text.preset_detail(self.presets.get(cmd.topic))
        return help_text.presets_overview(self.presets)

    async def _cmd_export(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        positions = self.store.positions(owner)
        data = {
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "owner": owner.key,
            "positions": [
                {
                    "id": p.number,
                    "label": p.label,
                    "protocol": p.protocol,
                    "market": p.market,
                    "collateral": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.collateral],
                    "debt": [{"asset": leg.asset, "amount": str(leg.amount)} for leg in p.debt],
                    "overrides": p.overrides.as_dict(),
                    "created_at": p.created_at,
                }
                for p in positions
            ],
        }
        body = json.dumps(data, indent=2).encode()
        return Reply(
            f"Your data: {len(positions)} position{'s' if len(positions) != 1 else ''}",
            attachment=Attachment("collateral-bot-export.json", body, "application/json"),
        )

    async def _cmd_forget(self, actor: Actor, cmd: Command) -> Reply:
        owner = self._owner(actor)
        if not cmd.confirmed:
            count = len(self.store.positions(owner))
            return Reply(
                f"Delete all your data ({count} position{'s' if count != 1 else ''} and settings)?",
                paragraph("This cannot be undone. Send /forget yes to confirm; /export first keeps a copy."),
                buttons=(Button("Delete everything", "/forget yes"), Button("Keep it", None)),
            )
        count = self.store.forget(owner)
        return Reply(f"Done: deleted {count} position{'s' if count != 1 else ''} and everything else about you.")
