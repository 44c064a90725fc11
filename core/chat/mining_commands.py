"""/mining: a fleet's income, costs and break-even, and the month-by-month path of the loan its coins back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from core.chat.commands import Command
from core.chat.context import Context
from core.chat.handlers import handles
from core.errors import PositionNotFound, PriceUnavailable, UsageError
from core.lending.models import Actor, Owner, Position
from core.lending.numbers import age_text, fmt_usd
from core.market import mining as m
from core.replies import Line, Reply, Section, paragraph
from core.storage.fleets import Fleets, StoredFleet


def fleet_of(stored: StoredFleet) -> m.Fleet:
    return m.Fleet(stored.hashrate_th, stored.efficiency_j_th, stored.power_usd_kwh, stored.pool_fee)


def _hashrate(th: float) -> str:
    return f"{th / 1e6:,.2f} EH/s" if th >= 1e6 else f"{th / 1e3:,.2f} PH/s" if th >= 1e4 else f"{th:,.2f} TH/s"


def _per_kwh(usd: float) -> str:
    """$0.06/kWh: a power price to the tenth of a cent, without trailing zeros past the cent."""
    text = f"{usd:.4f}".rstrip("0")
    return f"${text + '0' * max(0, 2 - len(text.split('.')[1]))}/kWh"


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@handles("mining")
async def _cmd_mining(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    owner = ctx.owner(actor)
    fleets = Fleets(ctx.store)
    if cmd.topic == "add":
        await ctx.require_admin(actor, "register the group's fleets")
        o = dict(cmd.options)
        ctx.store.set_display_name(actor.user, actor.name)
        stored = fleets.add(owner, float(o["hashrate"]), float(o["efficiency"]), float(o["power"]),
                            float(o.get("pool", 0)))
        return Reply(f"Fleet {stored.number} added: {_hashrate(stored.hashrate_th)} at {stored.efficiency_j_th:g} J/TH, "
                     f"power {_per_kwh(stored.power_usd_kwh)}, pool fee {stored.pool_fee:.1%}",
                     paragraph(f"/mining {stored.number} for its income; /mining {stored.number} loan N links the "
                               "BTC-backed loan its coins support."))
    if cmd.topic == "remove":
        await ctx.require_admin(actor, "remove the group's fleets")
        if not fleets.remove(owner, cmd.id):
            raise PositionNotFound(f"You have no fleet {cmd.id}.")
        return Reply(f"Fleet {cmd.id} removed.")
    if cmd.number is None and cmd.topic != "whatif":
        return await _overview(ctx, owner, fleets)
    chosen = _chosen(fleets, owner, cmd.number)
    if cmd.topic == "loan":
        await ctx.require_admin(actor, "change the group's fleets")
        if cmd.switch is False:
            fleets.update(chosen, loan_position_id=None)
            return Reply(f"Fleet {chosen.number} backs no loan now.")
        position = ctx.position(owner, int(cmd.option("loan")))
        if not any(ctx.registry.family(leg.asset) == m.BTC for leg in position.collateral):
            raise UsageError(f"{position.ref} holds no BTC as collateral: a fleet's coins back a BTC loan.")
        fleets.update(chosen, loan_position_id=position.stored_id)
        chosen = replace(chosen, loan_position_id=position.stored_id)
    elif cmd.topic == "pledge":
        await ctx.require_admin(actor, "change the group's fleets")
        fleets.update(chosen, pledge=float(cmd.option("pledge")))
        chosen = replace(chosen, pledge=float(cmd.option("pledge")))
    return await _detail(ctx, chosen, dict(cmd.options) if cmd.topic == "whatif" else {})


def _chosen(fleets: Fleets, owner: Owner, number: int | None) -> StoredFleet:
    """The fleet asked for, or the only one."""
    if number is None:
        mine = fleets.of(owner)
        if len(mine) != 1:
            raise UsageError("Which fleet? Like '/mining 1 whatif halving'." if mine else
                             "No fleet yet: /mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%")
        return mine[0]
    found = fleets.get(owner, number)
    if found is None:
        raise PositionNotFound(f"You have no fleet {number}; /mining lists yours.")
    return found


async def _network(ctx: Context) -> tuple[m.Network, str, float]:
    """The network as last read, said with its source and age; the BTC price."""
    if ctx.mining is None:
        raise UsageError("Mining data is not set up in this bot.")
    read = await ctx.mining.current()
    if read is None:
        raise UsageError(f"No mining data yet ({ctx.mining.error or 'no source answered'}); try again in a minute.")
    net, at, source = read
    price = (await ctx.prices.snapshot([m.BTC])).price(m.BTC)
    if not price:
        raise PriceUnavailable("No BTC price right now, so no mining figures.")
    stale = f", refresh failed: {ctx.mining.error}" if ctx.mining.error else ""
    return net, f"{source}, {age_text(ctx.clock.time() - at)} old{stale}", price


async def _overview(ctx: Context, owner: Owner, fleets: Fleets) -> Reply:
    mine = fleets.of(owner)
    if not mine:
        return Reply("No mining fleet yet", paragraph("Register one: /mining add 200 TH/s 17.5 J/TH power 0.06 pool 2%"))
    net, said, price = await _network(ctx)
    lines = []
    for f in mine:
        e = m.economics(fleet_of(f), net, price)
        lines.append(Line(f"Fleet {f.number}", f"{_hashrate(f.hashrate_th)}: {e.btc_per_day:.6f} BTC a day "
                                                f"({fmt_usd(e.revenue_usd)}), power {fmt_usd(e.power_usd)}, "
                                                f"margin {fmt_usd(e.margin_usd)} a day; break-even BTC {fmt_usd(e.break_even_price)}"))
    return Reply("Your mining fleets", (Section(None, tuple(lines)),), footer=f"BTC {fmt_usd(price)}; network from {said}")


async def _detail(ctx: Context, stored: StoredFleet, whatif: dict) -> Reply:
    net, said, price = await _network(ctx)
    now = ctx.clock.time()
    halving, halving_at = net.next_halving(now)  # the real one: a halving what-if moves the height past it
    subsidy_now = m.subsidy(net.height)
    fleet, trend = fleet_of(stored), None
    notes = []
    if "difficulty" in whatif:
        trend = float(whatif["difficulty"])
        net = replace(net, difficulty=net.difficulty * (1 + trend))
        notes.append(f"difficulty {trend:+.0%} now and at each later retarget")
    if whatif.get("halving"):
        net = replace(net, height=m.HALVING_BLOCKS * (net.height // m.HALVING_BLOCKS + 1))
        notes.append(f"after the next halving (subsidy {m.subsidy(net.height):g} BTC)")
    if "power" in whatif:
        fleet = replace(fleet, power_usd_kwh=float(whatif["power"]))
        notes.append(f"power at {_per_kwh(fleet.power_usd_kwh)}")
    if "btc" in whatif:
        price *= 1 + float(whatif["btc"])
        notes.append(f"BTC {float(whatif['btc']):+.0%} at {fmt_usd(price)}")
    e = m.economics(fleet, net, price)
    lines = [Line("Mined", f"{e.btc_per_day:.8f} BTC a day after the {fleet.pool_fee:.1%} pool fee ({fmt_usd(e.revenue_usd)})"),
             Line("Hashprice", f"{fmt_usd(e.hashprice_usd * 1000)} per PH/s a day ({fmt_usd(e.hashprice_usd)} per TH/s)"),
             Line("Power", f"{fmt_usd(e.power_usd)} a day ({fleet.efficiency_j_th:g} J/TH at {_per_kwh(fleet.power_usd_kwh)})"),
             Line("Margin", f"{fmt_usd(e.margin_usd)} a day ({e.margin_share:.0%} of revenue)" if e.revenue_usd else "no revenue"),
             Line("Break-even BTC price", fmt_usd(e.break_even_price)),
             Line("Next retarget", f"{net.retarget_change:+.2%} (estimate) around {_day(net.retarget_at)}"),
             Line("Next halving", f"block {halving:,} around {_day(halving_at)}, subsidy {subsidy_now:g} -> "
                                  f"{m.subsidy(halving):g} BTC")]
    sections = [Section(None, tuple(lines))]
    loan = _loan(ctx, stored)
    if loan is not None:
        position, terms = loan
        rows = m.project(fleet, net, price, now, terms, stored.pledge, retarget_change=trend)
        sections.append(_projection(position, terms, rows, stored.pledge))
    elif stored.loan_position_id is None:
        sections.append(Section(None, (Line("Loan", f"none linked: /mining {stored.number} loan N"),)))
    title = f"Fleet {stored.number}: {_hashrate(stored.hashrate_th)}" + (f", what if {', '.join(notes)}" if notes else "")
    return Reply(title, tuple(sections), footer=f"BTC {fmt_usd(price)}; network from {said}. Projections hold today's "
                                                "price and the difficulty trend; they are not forecasts.")


def _loan(ctx: Context, stored: StoredFleet) -> tuple[Position, m.Loan] | None:
    """The linked position as a BTC loan: collateral, debt, APR, and its lender's margin-call, liquidation and
    target LTVs (a health-factor lender's warning level stands in for a margin call)."""
    if stored.loan_position_id is None:
        return None
    position = ctx.store.positions_by_row_ids([stored.loan_position_id]).get(stored.loan_position_id)
    if position is None:
        return None
    loan = m.loan_of(position, ctx.terms_of(position), ctx.registry.family, ctx.store.borrow_apr(position) or 0.0)
    return (position, loan) if loan is not None else None


def _projection(position: Position, loan: m.Loan, rows: list[m.Month], pledge: float) -> Section:
    lines = [Line("Loan", f"{position.ref}: {loan.collateral_btc:g} BTC against {fmt_usd(loan.debt_usd)} at "
                          f"{loan.apr:.2%} APR{'' if loan.apr else ' (/rate ID 9% sets it)'}; margin call at "
                          f"{loan.margin_ltv:.0%} LTV, liquidation at {loan.liquidation_ltv:.0%}, pledging {pledge:.0%} "
                          "of what the fleet keeps")]
    for r in rows:
        halved = " (halving)" if r.halving else ""
        top = f", top-up {r.top_up_btc:.4f} BTC to {loan.target_ltv:.0%}" if r.top_up_btc else ""
        lines.append(Line(f"Month {r.month}", f"kept {r.mined_btc:.4f} BTC, pledged {r.pledged_btc:.4f}{halved}; "
                                              f"{r.collateral_btc:.4f} BTC against {fmt_usd(r.debt_usd)}, LTV {r.ltv:.1%}; "
                                              f"margin call at BTC {fmt_usd(r.margin_call_price)}, liquidation at "
                                              f"{fmt_usd(r.liquidation_price)}{top}"))
    month = m.first_margin_call(rows, loan)
    verdict = (f"At today's price and difficulty trend the loan reaches its margin call in month {month}."
               if month else f"At today's price and difficulty trend the loan does not reach its margin call within "
                             f"{len(rows)} months.")
    return Section("The loan, month by month", (*lines, Line("", verdict)))

