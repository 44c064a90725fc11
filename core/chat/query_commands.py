"""Handlers that only read: /start /help /capacity /whatif /price /status /protocols, and the replay pulse."""

from __future__ import annotations

from dataclasses import replace

from core.chat import help as help_text
from core.chat import views
from core.chat.commands import COMMANDS, Command, Shock
from core.chat.context import Context
from core.chat.handlers import handles
from core.chat.position_commands import opening_debt
from core.errors import InvalidAmount, UnsupportedByProtocol
from core.lending import risk
from core.lending.models import Actor, Severity
from core.lending.numbers import fmt_hf, fmt_pct, fmt_usd
from core.lending.valuation import Valuation, severity_for, shock_multipliers, value
from core.replies import Line, Reply, Section, paragraph, text_lines


@handles("start")
async def _cmd_start(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    return help_text.start()


@handles("help")
async def _cmd_help(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    return help_text.command(cmd.topic) if cmd.topic else help_text.overview()


@handles("capacity")
async def _cmd_capacity(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    target = (cmd.target.kind, float(cmd.target.value)) if cmd.target else None
    if cmd.spec is not None:
        spec = cmd.spec
        assert spec.protocol is not None  # the grammar refuses a hypothetical position without a lender
        terms = ctx.terms(spec.protocol, spec.market, spec.collateral, spec.debt, spec.overrides)
        ctx.check_overrides(terms, spec.overrides)
        debt, _ = opening_debt(ctx, terms, spec)
        assets = {leg.asset for leg in spec.collateral + debt}
        val = value(terms, spec.collateral, debt, await ctx.prices.snapshot(assets), ctx.registry)
        what = views.legs_text(spec.collateral) + (f" borrowing {views.legs_text(debt)}" if debt else "")
        return _capacity_reply(ctx, f"With {what} on {views.lender_name(terms)}", val, target)
    owner = ctx.owner(actor)
    if cmd.number is not None or cmd.watch is not None:  # W-numbers too: a group's warning points here
        positions = [ctx.lookup(actor, cmd.number, cmd.watch)]
    else:
        positions = ctx.store.positions(owner)
    if not positions:
        return Reply("You have no positions yet.", paragraph("Try: /capacity 10 ETH on aave-v3"))
    sections, worst, footer = [], Severity.INFO, None
    for position in positions:
        val = await ctx.value_of(position)
        ref = f"W{cmd.watch}" if cmd.watch is not None else position.ref
        reply = _capacity_reply(ctx, f"{ref} · {views.lender_name(val.terms)}", val, target)
        if len(positions) == 1:
            return reply
        # One section per position: its figures, without the lead sentence (they say the same).
        sections.append(Section(reply.title, tuple(line for s in reply.sections[1:] for line in s.lines)))
        worst, footer = max(worst, val.severity), reply.footer
    return Reply("How much more you can borrow", tuple(sections), worst, footer=footer)


def _capacity_reply(ctx: Context, title: str, val: Valuation, target) -> Reply:
    if target and target[0] == "cr" and val.terms.metric != "cr":
        raise UnsupportedByProtocol("Collateral-ratio targets apply to Maker and Liquity; use 'hf 1.5' or 'ltv 60%'.")
    if not val.priced:
        missing = ", ".join(f"{a} ({why})" for a, why in val.missing.items())
        return Reply(title, paragraph(f"No price for {missing}, so no capacity can be worked out now."))
    if target is not None:
        _check_target(ctx, val, *target)
    section = views.borrowing(val, target)
    kind, level = target or ("hf", val.levels[0])
    room = val.capacity_to(kind, level)
    limit = max(0.0, val.headroom())
    label = views.target_label(val, kind, level)
    max_ltv = fmt_pct(val.max_ltv())
    if val.lends_nothing:
        words = (f"{views.lender_name(val.terms)} lends nothing more: its debt ceiling is 0, so no vault of this type "
                 "can draw, whatever its ratio.")
    elif room <= 0:
        words = f"You are already past the {label}: borrowing more is not advised."
    elif limit <= 0:
        words = f"The lender would refuse more borrowing: the position is past its borrow limit ({max_ltv} LTV)."
    elif room > limit:
        # A lender refuses new debt past its max LTV, even where the target would allow more.
        words = f"You can borrow {views.in_units(val, limit)} more: the lender's borrow limit ({max_ltv} LTV) comes before the {label}."
    else:
        words = f"You can borrow {views.in_units(val, room)} more and keep the {label}."
    health = Line("Health factor now", f"{fmt_hf(val.hf)} · {views.STATUS[val.severity]}")
    return Reply(title, (*paragraph(words), Section(None, (health,)), section), val.severity,
                 footer=views.price_footer(val, ctx.clock.time()))


def _check_target(ctx: Context, val: Valuation, kind: str, level: float) -> None:
    """Refuse a target at or past the lender's liquidation line: "borrow up to it" would mean "get liquidated"."""
    threshold = risk.liquidation_threshold(val.priced_exposure)
    if kind == "hf" or threshold <= 0:
        return  # the grammar already keeps health-factor targets above 1
    name = views.lender_name(val.terms)
    if kind == "ltv" and level >= threshold:
        raise InvalidAmount(f"An LTV of {fmt_pct(level)} is at or past where {name} liquidates "
                            f"({fmt_pct(threshold)}): pick a lower target.", COMMANDS["capacity"].usage)
    if kind == "cr" and level * threshold <= 1:
        raise InvalidAmount(f"A collateral ratio of {fmt_pct(level)} is at or below where {name} liquidates "
                            f"({fmt_pct(1 / threshold)}): pick a higher target.", COMMANDS["capacity"].usage)


@handles("whatif")
async def _cmd_whatif(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    owner = ctx.owner(actor)
    positions = [ctx.position(owner, cmd.number)] if cmd.number is not None else ctx.store.positions(owner)
    if not positions:
        return Reply("You have no positions to test.", paragraph("Add one first: /add 10 ETH borrow 15000 USDC on aave-v3"))
    moves = {s.asset: s.move for s in cmd.shocks if s.move is not None}
    targets = {s.asset: s.price for s in cmd.shocks if s.price is not None}
    assets = set().union(*(p.assets() for p in positions)) | set(targets)
    snapshot = await ctx.prices.snapshot(assets)
    prices = {a: q.price for a, q in snapshot.quotes.items()}
    for asset in targets:
        if asset not in prices:
            return Reply.failure(f"No price for {asset} right now, so a target price cannot be turned into a move.")
    title = "What if " + ", ".join(_shock_text(s) for s in cmd.shocks)
    lines, worst, liquidated, unknown = [], Severity.INFO, 0, 0
    for position in positions:
        terms = ctx.terms_of(position)
        val = value(terms, position.collateral, position.debt, snapshot, ctx.registry)
        if not val.priced:
            lines.append(Line(position.ref, f"cannot tell: no price for {', '.join(val.missing)}"))
            unknown += 1
            continue
        mult = shock_multipliers(position.assets(), moves, prices, targets, ctx.registry)
        if terms.preset.debt_at_par:  # the lender keeps counting its stable debt at $1
            mult = {a: m for a, m in mult.items() if not (a in {d.asset for d in position.debt} and ctx.registry.get(a).stable)}
        shocked = risk.stressed(val.priced_exposure, mult)
        hf_after = risk.health_factor(shocked)
        sev = severity_for(hf_after, *val.levels)
        worst = max(worst, sev)
        liquidated += sev == Severity.LIQUIDATABLE
        status = "LIQUIDATED" if sev == Severity.LIQUIDATABLE else views.STATUS[sev]
        lines.append(Line(position.ref, f"HF {fmt_hf(val.hf)} → {fmt_hf(hf_after)} · {status} ({views.lender_name(terms)})"))
    counted = len(positions) - unknown
    if liquidated:
        summary = f"{liquidated} of {len(positions)} position{'s' if len(positions) != 1 else ''} would be liquidated."
    elif counted:
        summary = "None would be liquidated." if not unknown else f"None of the {counted} that could be valued would be liquidated."
    else:
        summary = ""
    if unknown:  # no price is no answer: never "none would be liquidated" about a position it could not value
        noun = "position" if unknown == 1 else "positions"
        summary = (summary + " " if summary else "") + f"For {unknown} {noun} I cannot tell: no price right now."
    return Reply(title, (Section(None, tuple(lines)), Section(None, text_lines(summary))), worst)


@handles("price")
async def _cmd_price(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    symbols = list(cmd.assets)
    if not symbols:
        held = set().union(*(p.assets() for p in ctx.store.positions(ctx.owner(actor))))
        symbols = sorted(a for a in held if not ctx.registry.get(a).stable) or ["BTC", "ETH"]
    snapshot = await ctx.prices.snapshot(symbols)
    lines = [views.quote_line(symbol, snapshot, ctx.clock.time()) for symbol in symbols]
    worst = Severity.WARNING if any(q.trusted is False for q in snapshot.quotes.values()) or snapshot.missing else Severity.INFO
    return Reply("Prices", (Section(None, tuple(lines)),), worst)


@handles("status")
async def _cmd_status(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    reply = views.status(ctx.prices.status(), ctx.clock.time())
    extra = []
    if ctx.monitor_status is not None:
        extra.append(views.monitor_section(ctx.monitor_status(), ctx.clock.time()))
    if ctx.yields is not None:
        extra.append(Section("Yield data", (Line("", ctx.yields.describe()),)))
    if ctx.mining is not None and (line := ctx.mining.describe(ctx.clock.time())):
        extra.append(Section("Mining data", (Line("", line),)))
    if ctx.tracker is not None and ctx.store.follows_any():  # only once something is read from a chain
        extra.append(Section("Chains", tuple(Line(name, text) for name, text in ctx.tracker.status_lines())))
    if ctx.outbox is not None:
        # In a group only the group's own deliveries: a member's DM failures are nobody else's business.
        extra.append(views.queue_section(ctx.outbox, actor.chat.key,
                                         "this group" if actor.chat.is_group else "your private chat"))
    return replace(reply, sections=reply.sections + tuple(extra))


def pulse(ctx: Context, actor: Actor) -> str | None:
    """One line on the owner's positions at the prices known now (the replay ticker); None if none."""
    positions = ctx.store.positions(ctx.owner(actor))
    if not positions:
        return None
    assets = set().union(*(p.assets() for p in positions))
    snapshot = ctx.prices.quotes(assets)
    parts = []
    for position in positions:
        terms = ctx.terms_of(position)
        val = value(terms, position.collateral, position.debt, snapshot, ctx.registry)
        parts.append(f"{position.ref} HF {fmt_hf(val.hf)} {views.STATUS[val.severity]}" if val.priced else f"{position.ref} no price")
    return " · ".join(parts)


@handles("protocols")
async def _cmd_protocols(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if cmd.topic:
        return help_text.preset_detail(ctx.presets.get(cmd.topic))
    return help_text.presets_overview(ctx.presets)


def _shock_text(shock: Shock) -> str:
    """One shock as the title says it: "ETH -30.0%" or "ETH at $2,000.00"."""
    if shock.move is not None:
        return f"{shock.asset} {float(shock.move * 100):+.1f}%"
    return f"{shock.asset} at {fmt_usd(float(shock.price or 0))}"
