"""/risk: how likely a position is to reach its liquidation line within 1, 7 and 30 days."""

from __future__ import annotations

import math

import numpy as np

from core.chat.analysis_commands import _heavy
from core.chat.commands import Command
from core.chat.context import Context
from core.chat.handlers import handles
from core.lending import risk
from core.lending.models import Actor, Position
from core.lending.numbers import fmt_usd
from core.market import volatility as vol
from core.replies import Line, Reply, Section

FOOTER = ("An estimate from past volatility, not a forecast: real crashes come in bursts that this model smooths out "
          "(docs/risk.md compares it with what happened).")


def book_of(e: risk.Exposure, family, stable: frozenset[str]) -> vol.Book:
    """The position as the simulation sees it: one risk factor per asset family (wstETH moves with ETH), its USD
    weight in the health factor's numerator and denominator; stable legs fixed."""
    factors: list[str] = []
    num: dict[str, float] = {}
    den: dict[str, float] = {}
    fixed_num = fixed_den = 0.0
    for leg in e.collateral:
        if leg.asset in stable:
            fixed_num += leg.value * leg.lt
        else:
            f = family(leg.asset)
            factors += [f] if f not in factors else []
            num[f] = num.get(f, 0.0) + leg.value * leg.lt
    for d in e.debt:
        if d.asset in stable:
            fixed_den += d.value
        else:
            f = family(d.asset)
            factors += [f] if f not in factors else []
            den[f] = den.get(f, 0.0) + d.value
    return vol.Book(tuple(factors), np.array([num.get(f, 0.0) for f in factors]),
                    np.array([den.get(f, 0.0) for f in factors]), np.ones(len(factors)), fixed_num, fixed_den)


def barrier(book: vol.Book) -> float | None:
    """With one volatile factor: the multiple of today's price at which the health factor is 1 (None: never)."""
    w, q = float(book.weights[0]), float(book.owed[0])
    if w == q:
        return None
    r = (book.fixed_den - book.fixed_num) / (w - q)
    return r if r > 0 else None


@handles("risk")
async def _cmd_risk(ctx: Context, actor: Actor, cmd: Command) -> Reply:
    position = ctx.position(ctx.owner(actor), cmd.id)
    val = await ctx.priced_value(position, "no estimate")
    if not position.debt:
        return Reply(f"{position.ref} borrows nothing: it cannot be liquidated.")
    if val.hf < 1:
        return Reply(f"{position.ref} is liquidatable now (health factor {val.hf:.2f}).")
    book = book_of(val.priced_exposure, ctx.registry.family, val.stable)
    if not book.assets:
        return Reply(f"{position.ref} holds only stable assets: prices alone will not liquidate it.")
    series = {f: _series(ctx, position, f) for f in book.assets}
    unknown = [f for f, s in series.items() if s is None]
    if unknown:
        return Reply.failure(f"No price history for {', '.join(unknown)}: /risk needs {vol.MIN_RECORDED_DAYS} days of "
                             "prices recorded by this bot, or an asset with bundled history (BTC, ETH, SOL, BNB, LINK).")
    known = {f: s for f, s in series.items() if s is not None}
    sigmas = np.array([known[f].sigma_daily for f in book.assets])
    lines, model = [], []
    if len(book.assets) == 1:
        ratio = barrier(book)
        odds = [vol.touch_probability(ratio, float(sigmas[0]), d) if ratio else 0.0 for d in vol.HORIZONS]
        symbol, price = _price(val, book.assets[0], ctx)
        where = (f"{symbol} {fmt_usd(price * ratio)} ({ratio - 1:+.1%})" if ratio
                 else "none: its health factor does not fall with this price")
        model.append(Line("Method", f"the chance a driftless random walk of the price touches the liquidation price, "
                                    f"in closed form; liquidation at {where}"))
    else:
        corr = np.array([[1.0 if a == b else vol.correlation(known[a], known[b]) for b in book.assets] for a in book.assets])
        odds = await _heavy(ctx, actor, "risk estimate", vol.simulate, book, sigmas, corr)
        pairs = [f"{a}/{b} {corr[i, j]:.2f}" for i, a in enumerate(book.assets) for j, b in enumerate(book.assets) if i < j]
        model.append(Line("Method", f"{vol.PATHS:,} simulated paths of the assets together, hour by hour, counting those "
                                    "whose health factor touches 1"))
        model.append(Line("Correlation", ", ".join(pairs)))
    for days, p in zip(vol.HORIZONS, odds, strict=True):
        lines.append(Line(f"Within {days} day{'s' if days > 1 else ''}", _pct(p)))
    for f in book.assets:
        s = known[f]
        model.append(Line(f"{f} volatility", f"{s.sigma_daily * math.sqrt(365):.0%} a year ({s.sigma_daily:.1%} a day), "
                                             f"from {s.source}"))
    return Reply(f"Chance that {position.ref} reaches liquidation", (Section(None, tuple(lines)),
                                                                     Section("Model", tuple(model))), footer=FOOTER)


def _series(ctx: Context, position: Position, family: str) -> vol.Series | None:
    """Recorded prices of the family (or of the position's own symbol in it), else the bundled daily closes."""
    now = ctx.clock.time()
    names = [family] + [leg.asset for leg in (*position.collateral, *position.debt) if ctx.registry.family(leg.asset) == family]
    recorded: list[tuple[int, float]] = []
    for name in dict.fromkeys(names):
        recorded = ctx.history.series(name, now - vol.WINDOW_DAYS * vol.DAY, now) if ctx.history is not None else []
        if recorded:
            break
    return vol.series(family, recorded)


def _price(val, family: str, ctx: Context) -> tuple[str, float]:
    """The family's first leg and its price today, to say the liquidation price in its terms."""
    e = val.priced_exposure
    return next((leg.asset, leg.price) for leg in (*e.collateral, *e.debt) if ctx.registry.family(leg.asset) == family)


def _pct(p: float) -> str:
    if p < 0.001:
        return "under 0.1%"
    if p > 0.999:
        return "over 99.9%"
    return f"{p:.1%}"
