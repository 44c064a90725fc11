"""Handlers of analysis: /yield /rate /carry /backtest /il /chart."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.chat.commands import Command
from core.chat.context import Context
from core.chat.handlers import handles
from core.chat.heavy import bundled_backtest
from core.chat.progress import PROGRESS
from core.chat.views import position_summary
from core.errors import UsageError
from core.lending import risk
from core.lending.models import Actor, Severity
from core.lending.numbers import age_text, fmt_hf, fmt_units, fmt_usd
from core.lending.protocols import lender_name
from core.lending.valuation import levels
from core.market import carry as carry_math
from core.market import charts, il
from core.replies import Attachment, Line, Reply, Section, paragraph
from core.watch import backtest as bt

# Collateral that earns by itself, and where: (DefiLlama project, pool symbol) of its issuer's staking pool.
# wstETH wraps stETH, so it earns Lido's stETH rate.
STAKING_ISSUERS = {"stETH": ("lido", "STETH"), "wstETH": ("lido", "STETH"), "rETH": ("rocket-pool", "RETH")}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _tvl(usd: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if usd >= size:
            return f"${usd / size:,.2f}{unit}"
    return fmt_usd(usd)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _tidy(x: float) -> float:
    """x without float dust and without a negative zero, so a tiny move never reads "-0.0000%"."""
    return round(x, 9) + 0.0


def _round_up(x: float) -> float:
    """x rounded up at the decimals fmt_units shows: an amount that is said to be enough must be enough."""
    digits = 2 if x >= 100 else 4 if x >= 1 else 6
    return math.ceil(round(x * 10**digits, 6)) / 10**digits


async def _heavy(ctx: Context, actor: Actor, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in the heavy-work pool, in this user's fair turn; a user who has to wait is told so."""
    progress = PROGRESS.get()

    async def queued(ahead: int) -> None:
        if progress is not None:
            await progress(f"Your {what} is queued behind {ahead} other request{'s' if ahead != 1 else ''}; "
                           "it comes as soon as it is ready.")

    return await ctx.heavy.run(actor.user.key, fn, *args, on_queued=queued if progress else None)


# ---------------------------------------------------------------- /yield


@handles("yield")
async def _cmd_yield(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if ctx.yields is None:
        return Reply.failure("Yield data is not set up in this bot.")
    asset = cmd.assets[0]
    answer = await ctx.yields.answer(asset, **dict(cmd.options))
    if not answer.pools:
        return Reply(f"No pool for {asset} passes the filters", paragraph(
            "Try fewer filters (min-tvl lowers the bar; 'all' includes pools DefiLlama marks as outliers)."),
            footer=_yield_footer(ctx, answer))
    lines = []
    for n, p in enumerate(answer.pools, start=1):
        split = f"base {_pct(p.apy_base)}, reward {_pct(p.apy_reward)}"
        mean = f", {p.mean[1]} {_pct(p.mean[0])}" if p.mean is not None else ""
        risk_text = "IL risk" if p.il_risk else "no IL"
        lines.append(Line(f"{n}. {p.project}", f"{p.symbol} on {p.chain}: APY {p.apy:.2f}% ({split}{mean}) · TVL {_tvl(p.tvl_usd)} · "
                          f"{risk_text}{' · stablecoin' if p.stablecoin else ''}"))
    return Reply(f"Where {asset} earns", (Section(None, tuple(lines)),), footer=_yield_footer(ctx, answer))


def _yield_footer(ctx: Context, answer) -> str:
    caveat = "APY includes compounding; past yield is not a promise."
    if answer.origin == "live":
        return f"Data from DefiLlama, {age_text(ctx.clock.time() - answer.as_of)} old. {caveat}"
    # The note says why it is not live and what is shown instead: "DefiLlama could not be reached; showing ..."
    return f"{answer.note}. {caveat}"


# ---------------------------------------------------------------- /rate and /carry


@handles("rate")
async def _cmd_rate(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    if cmd.switch is None and not cmd.options:
        return await _show_rate(ctx, actor, cmd)
    await ctx.require_admin(actor, "set the group's rates")
    position = ctx.position(ctx.owner(actor), cmd.id)
    apr = None if cmd.switch is False else float(dict(cmd.options)["apr"])
    ctx.store.set_borrow_apr(position, apr)
    if apr is None:
        return Reply(f"{position.ref} has no borrow rate set now.")
    apy = carry_math.apr_to_apy(apr)
    return Reply(f"{position.ref} borrows at {apr:.2%} APR ({apy:.2%} APY, compounded every second).",
                 paragraph(f"/carry {position.number} shows whether that pays for itself."))


async def _show_rate(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    position = ctx.position(ctx.owner(actor), cmd.id)
    if not position.debt:
        return Reply(f"{position.ref} borrows nothing.")
    if ctx.yields is not None:
        await ctx.yields.refresh_if_due()
    apr, source = _borrow_rate(ctx, position, ctx.terms_of(position).preset.id, position.debt[0].asset)
    if apr is None:
        return Reply(f"No borrow rate is known for {position.ref}.",
                     paragraph(f"Set it with /rate {position.number} 5.2% (the APR your lender shows)."))
    return Reply(f"{position.ref} borrows at {apr:.2%} APR ({carry_math.apr_to_apy(apr):.2%} APY, compounded every second).",
                 paragraph(f"From: {source}.", f"/carry {position.number} shows whether that pays for itself."))


@handles("carry")
async def _cmd_carry(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    position = ctx.position(ctx.owner(actor), cmd.id)
    val = await ctx.priced_value(position, "no carry can be worked out")
    if not position.debt:
        return Reply(f"{position.ref} borrows nothing, so there is no carry to weigh.")
    e = val.priced_exposure
    debt, coll = risk.debt_value(e), risk.collateral_value(e)
    if coll <= debt:
        return Reply(f"{position.ref} owes more than its collateral is worth: no equity to earn on.")
    debt_asset = position.debt[0].asset
    if ctx.yields is not None:
        await ctx.yields.refresh_if_due()  # once, so the rate, the pools and the footer are the same data
    apr, rate_source = _borrow_rate(ctx, position, val.terms.preset.id, debt_asset)
    given = dict(cmd.options).get("apy")
    pool = None if given is not None or ctx.yields is None else ctx.yields.best_for(
        debt_asset, stable_only=ctx.registry.get(debt_asset).stable, no_il=True)
    deploy_apy = float(given) if given is not None else (pool.apy / 100 if pool else 0.0)
    coll_apy, coll_pool = 0.0, None
    main = max(e.collateral, key=lambda c: c.value)
    if main.asset in STAKING_ISSUERS and ctx.yields is not None:
        # staking pays the holder whatever the lender does: the issuer's own pool, not a lending market's supply rate
        coll_pool = ctx.yields.issuer_pool(*STAKING_ISSUERS[main.asset])
        coll_apy = coll_pool.apy / 100 if coll_pool else 0.0
    received = _received(position, val.terms, debt)
    periods = 365 if val.terms.metric == "ltv" else carry_math.SECONDS_PER_YEAR  # CeFi loans accrue daily
    result = carry_math.carry(debt, apr or 0.0, received, deploy_apy, main.value, coll_apy, coll - debt, periods)
    compounding = "daily" if periods == 365 else "every second"
    lines = [
        Line("Debt", f"{fmt_usd(debt)} at {f'{apr:.2%} APR' if apr is not None else 'an unknown rate'}"
             f"{f' ({rate_source})' if rate_source else ''}"
             + (f", {carry_math.apr_to_apy(apr, periods):.2%} APY compounded {compounding}" if apr else "")
             + f": {fmt_usd(result.borrow_cost_usd)} a year"),
        Line("Borrowed amount put to work", f"{fmt_usd(received)} at {deploy_apy:.2%} APY"
             + (f" ({pool.project} {pool.symbol} on {pool.chain})" if pool else " (your figure)" if given is not None else " (no pool found)")
             + f": {fmt_usd(result.deploy_income_usd)} a year"),
    ]
    if coll_apy and coll_pool is not None:
        lines.append(Line("Collateral earns", f"{fmt_usd(main.value)} of {main.asset} at {coll_apy:.2%} "
                          f"({coll_pool.project} staking): {fmt_usd(result.collateral_income_usd)} a year"))
    # Without the rate the debt's cost is unknown, not free: no net figure rather than a flattering one.
    net = (f"{fmt_usd(result.net_usd)} a year on {fmt_usd(result.equity_usd)} of equity: {result.net_on_equity:.2%}"
           if apr is not None else f"unknown until the borrow rate is set (/rate {position.number} 5.2%)")
    lines += [
        Line("Net", net),
        Line("Break-even borrow rate", f"{result.break_even_borrow_apr:.2%} APR: above it, the borrowing costs more than it earns"),
    ]
    verdict = ("The borrowing pays for itself." if apr is not None and apr < result.break_even_borrow_apr
               else "The borrowing costs more than the borrowed money earns." if apr is not None
               else f"Set what the debt costs with /rate {position.number} 5.2% to see the net.")
    footer = _yield_footer(ctx, ctx.yields.provenance()) if ctx.yields is not None and given is None else None
    return Reply(f"Carry of {position.ref} · {lender_name(val.terms)}", (Section(None, tuple(lines)), Section(None, (Line("", verdict),))),
                 footer=footer)


def _received(position, terms, debt_usd: float) -> float:
    """What the borrower got to put to work: the debt, less what the lender booked on top (Liquity v1's fee and reserve)."""
    params = terms.market.params
    if "gas_reserve" not in params:
        return debt_usd
    reserve = float(params["gas_reserve"])
    return max(0.0, (debt_usd - reserve) / (1 + terms.draw_fee))


def _borrow_rate(ctx: Context, position, protocol: str, debt_asset: str) -> tuple[float | None, str]:
    """(APR, where it comes from): the owner's /rate first, then the lender's own terms or the lending data."""
    apr = ctx.store.borrow_apr(position)
    if apr is not None:
        return apr, f"set with /rate {position.number}"
    if protocol == "liquity-v1":
        return 0.0, "Liquity v1 charges no interest, only a one-off borrowing fee"
    link = ctx.link_of(position)
    if protocol == "liquity-v2" and link is not None and "rate" in link.reading.get("system", {}):
        return float(link.reading["system"]["rate"]), "the trove's own rate, read from Liquity v2"
    rate = ctx.yields.borrow_rate(protocol, debt_asset) if ctx.yields is not None else None
    if rate is None:
        return None, ""
    reward = f", borrowers also earn {rate.reward:.2%} in rewards" if rate.reward else ""
    age = age_text(ctx.clock.time() - rate.as_of)
    return rate.apr, f"{rate.pool.project} {rate.pool.symbol} variable rate from DefiLlama, {age} old{reward}"


# ---------------------------------------------------------------- /backtest


@handles("backtest")
async def _cmd_backtest(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    position = ctx.position(ctx.owner(actor), cmd.id)
    terms = ctx.terms_of(position)
    settings = ctx.store.alert_settings(position)
    warn, danger = levels(terms)
    warn = settings["warn"] or warn
    danger = settings["critical"] or danger
    coll = [bt.Leg(leg.asset, float(leg.amount), terms.collateral[leg.asset].lt) for leg in position.collateral]
    at_par = terms.preset.debt_at_par
    debt = [bt.Owed(leg.asset, float(leg.amount), at_par and ctx.registry.get(leg.asset).stable) for leg in position.debt]
    results = await _heavy(ctx, actor, "backtest", bundled_backtest, cmd.topic, coll, debt, warn, danger)
    sections = [_backtest_section(ctx, r, warn, danger) for r in results]
    worst = max((1 if r.liquidated_at else 0 for r in results), default=0)
    return Reply(f"{position.ref} through real crashes ({position_summary(position)})", tuple(sections),
                 Severity.LIQUIDATABLE if worst else Severity.OK,
                 footer="Today's amounts replayed on bundled Binance hourly closes (the lowest wick shown too); "
                        "warnings are the ones this bot would have sent.")


def _backtest_section(ctx: Context, r: bt.BacktestResult, warn: float, danger: float) -> Section:
    if r.missing:
        return Section(r.window, (Line("", f"no bundled prices for {', '.join(r.missing)} in this window"),))
    lines = [Line("Health", f"{fmt_hf(r.start_hf)} at the start, lowest {fmt_hf(r.lowest_hf)} on {_when(r.lowest_at)} "
                  f"(wick {fmt_hf(r.lowest_wick_hf)}), {fmt_hf(r.end_hf)} at the end")]
    sent = [e for e in r.warnings if e.kind == "worse"]
    if r.warnings:
        firsts = "; ".join(f"{_when(e.ts)} {('WARNING', 'DANGER', 'LIQUIDATABLE')[e.level - 1]}" for e in sent[:3])
        reminders = sum(e.kind == "reminder" for e in r.warnings)
        # A position already past a level when the window opens is not warned again, only reminded: say so.
        start = ("LIQUIDATABLE" if r.start_hf < 1 else "DANGER" if r.start_hf < danger
                 else "WARNING" if r.start_hf < warn else None)
        lines.append(Line("Warnings", (f"already {start} at the start; " if start else "")
                          + f"{len(sent)} warning{'' if len(sent) == 1 else 's'}, {reminders} reminder{'' if reminders == 1 else 's'}" + (f"; first: {firsts}" if firsts else "")))
    if r.liquidated_at is None:
        lines.append(Line("Liquidation", "survived"))
    else:
        at = ", ".join(f"{a} {fmt_usd(p)}" for a, p in r.liquidation_prices.items())
        lines.append(Line("Liquidation", f"on {_when(r.liquidated_at)} at {at}"))
        options = [fmt_units(_round_up(x), a) for a, x in r.extra_collateral.items() if x > 0]
        if len(options) == 1:
            lines.append(Line("Would have survived with", f"{options[0]} more collateral"))
        elif options:  # each figure alone is enough: never read them as a sum
            lines.append(Line("Would have survived with", f"either {', or '.join(options)} more collateral (any one of them)"))
    return Section(r.window, tuple(lines))


# ---------------------------------------------------------------- /il


@handles("il")
async def _cmd_il(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    o = dict(cmd.options)
    base, quote = cmd.assets
    p0, p1 = o["from"], o["to"]
    full = _tidy(il.constant_product_il(p1 / p0))
    lines = [Line("Full range (constant product)",
                  f"{full:.4%}; the pool's fees must earn {_tidy(il.fees_to_break_even(full)):.2%} to make up for it")]
    if "low" in o:
        try:
            ranged = _tidy(il.concentrated_il(10_000.0, p0, p1, o["low"], o["high"]))
        except ValueError as err:
            raise UsageError(str(err)) from None
        position = il.range_position(10_000.0, p0, o["low"], o["high"])
        out = "" if o["low"] <= p1 <= o["high"] else " (out of range: all in one asset)"
        lines.append(Line(f"Range {fmt_usd(o['low'])}-{fmt_usd(o['high'])}",
                          f"{ranged:.4%}{out}; fees must earn {_tidy(il.fees_to_break_even(ranged)):.2%}. "
                          f"$10,000 in at {fmt_usd(p0)} is {position.x:,.6f} {base} + {position.y:,.2f} {quote}"))
    return Reply(f"Impermanent loss of {base}-{quote} from {fmt_usd(p0)} to {fmt_usd(p1)} ({p1 / p0 - 1:+.1%})",
                 (Section(None, tuple(lines)),), footer="Against simply holding what you put in; fees and rewards not included.")


# ---------------------------------------------------------------- /chart


@handles("chart")
async def _cmd_chart(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    position = ctx.position(ctx.owner(actor), cmd.id)
    val = await ctx.priced_value(position, "no chart")
    e = val.priced_exposure
    volatile = [c for c in e.collateral if not ctx.registry.get(c.asset).stable] or list(e.collateral)
    main = max(volatile, key=lambda c: c.value)
    warn, danger = val.levels
    marks = {name: _price_at_health(e, main.asset, h) for name, h in (("liquidation", 1.0), ("danger", danger), ("warning", warn))}
    title = f"{position.ref} · {lender_name(val.terms)} · {main.asset}"
    if cmd.topic == "whatif":
        prices, health = charts.health_points(e, main.asset)
        image = await _heavy(ctx, actor, "chart", charts.health_curve, prices, health, main.asset, main.price,
                                  marks["liquidation"], warn, danger, title)
        caption = f"Health factor of {position.ref} against the {main.asset} price"
    else:
        now = ctx.clock.time()
        series = ctx.history.series(main.asset, now - 7 * 86400, now) if ctx.history is not None else []
        if len(series) < 2:
            return Reply(f"Not enough {main.asset} price history yet for a chart of {position.ref}.",
                         paragraph("The bot records prices as it runs; try /chart "
                                   f"{position.number} whatif for the health factor against price meanwhile."))
        image = await _heavy(ctx, actor, "chart", charts.price_chart, series, main.asset, marks["liquidation"],
                                  marks["warning"], marks["danger"], title)
        caption = f"{main.asset} over the last {age_text(now - series[0][0])} with the levels of {position.ref}"
    lines = [Line(name.capitalize(), fmt_usd(p) if p else "none") for name, p in marks.items()]
    return Reply(caption, (Section(None, tuple(lines)),),
                 attachment=Attachment(f"chart-{position.number}{'-whatif' if cmd.topic else ''}.png", image, "image/png"))


def _price_at_health(e: risk.Exposure, asset: str, target: float) -> float | None:
    """The price of `asset` at which the health factor is `target` (others fixed): liquidation with the debt scaled."""
    scaled = risk.Exposure(e.collateral, tuple(risk.DebtLeg(d.asset, d.amount * target, d.price) for d in e.debt))
    lp = risk.liquidation_price(scaled, asset)
    return lp.price if lp is not None and lp.falling and math.isfinite(lp.price) else None

