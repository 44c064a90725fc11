"""The wording of answers about positions: health, capacity, liquidation, prices."""

from __future__ import annotations

import math

from core.chat.help import recovery_mode
from core.lending import risk
from core.lending.models import Leg, Position, Severity
from core.lending.numbers import age_text, fmt_amount, fmt_hf, fmt_pct, fmt_units, fmt_usd
from core.lending.protocols import lender_name
from core.lending.valuation import Valuation
from core.replies import Line, Reply, Section

STATUS = {
    Severity.INFO: "no price",
    Severity.OK: "OK",
    Severity.WARNING: "warning",
    Severity.DANGER: "danger",
    Severity.LIQUIDATABLE: "LIQUIDATABLE",
}


def legs_text(legs: tuple[Leg, ...]) -> str:
    """'10 ETH + 0.5 WBTC'."""
    return " + ".join(f"{fmt_amount(leg.amount)} {leg.asset}" for leg in legs) or "nothing"


def position_summary(position: Position) -> str:
    """'10 ETH, borrowing 15,000 USDC'."""
    text = legs_text(position.collateral)
    if position.debt:
        text += f", borrowing {legs_text(position.debt)}"
    return text


def compact(position: Position, val: Valuation | None, problem: str | None = None) -> Line:
    """One line for /positions: what it is and how healthy."""
    what = position_summary(position)
    if val is None:
        return Line(position.ref, f"{what} · {problem or 'cannot be valued'}")
    status = STATUS[val.severity]
    if not val.priced:
        return Line(position.ref, f"{what} on {lender_name(val.terms)} · no price for {', '.join(val.missing)}")
    return Line(position.ref, f"{what} on {lender_name(val.terms)} · HF {fmt_hf(val.hf)} {status}")


def debt_unit(val: Valuation) -> tuple[str, float] | None:
    """(symbol, USD price) of the asset capacity is counted in: the first debt asset, else None (USD)."""
    if not val.debt or not val.exposure:
        return None
    first = val.exposure.debt[0]
    return first.asset, first.price


def in_units(val: Valuation, usd: float) -> str:
    """USD as an amount of the debt asset ('1,600 USDC'), or plain USD with no debt."""
    unit = debt_unit(val)
    if unit is None or unit[1] <= 0:
        return fmt_usd(usd)
    symbol, price = unit
    text = fmt_units(usd / price, symbol)
    return text if price == 1.0 else f"{text} ({fmt_usd(usd)})"


def holdings(val: Valuation) -> Section:
    """Each leg with price and value; unpriced legs say why."""
    lines: list[Line] = []
    for side, legs in (("Collateral", val.collateral), ("Debt", val.debt)):
        for i, leg in enumerate(legs):
            label = side if i == 0 else ""
            quote = val.quotes.get(leg.asset)
            if val.exposure:
                src = val.exposure.collateral if side == "Collateral" else val.exposure.debt
                price = next(x.price for x in src if x.asset == leg.asset)
                lines.append(Line(label, f"{fmt_amount(leg.amount)} {leg.asset} × {fmt_usd(price)} = {fmt_usd(float(leg.amount) * price)}"))
            elif quote is not None or leg.asset not in val.missing:
                price = quote.price if quote else 1.0
                lines.append(Line(label, f"{fmt_amount(leg.amount)} {leg.asset} × {fmt_usd(price)} = {fmt_usd(float(leg.amount) * price)}"))
            else:
                lines.append(Line(label, f"{fmt_amount(leg.amount)} {leg.asset} (no price: {val.missing[leg.asset]})"))
    if not val.debt:
        lines.append(Line("Debt", "none"))
    if val.exposure and len(val.collateral) > 1:
        lines.append(Line("Collateral value", fmt_usd(risk.collateral_value(val.exposure))))
    return Section(None, tuple(lines))


def health(val: Valuation) -> Section:
    """The lender's own metric first (HF, CR % or LTV %), with its warning and liquidation levels."""
    e = val.exposure
    assert e is not None
    terms = val.terms
    warn, _ = val.levels
    hf = val.hf
    status = STATUS[val.severity]
    ltv = risk.loan_to_value(e)
    if math.isinf(hf):
        return Section("Health", (Line("Health factor", "∞ (no debt)"),))
    if terms.metric == "cr":
        cr = 1 / ltv if ltv > 0 else math.inf
        floor = terms.min_ratio or 1 / risk.liquidation_threshold(e)
        lines = [
            Line("Collateral ratio", f"{fmt_pct(cr)} · {status} (warning below {fmt_pct(floor * warn)}, liquidation below {fmt_pct(floor)})"),
            Line("Health factor", f"{fmt_hf(hf)} (collateral ratio ÷ {fmt_pct(floor)})"),
        ]
    elif terms.metric == "ltv":
        steps = ", ".join(fmt_pct(m) for m in terms.margin_ltvs)
        margin = f"margin call at {steps}, " if steps else ""
        liq = risk.liquidation_threshold(e)
        lines = [
            Line("LTV", f"{fmt_pct(ltv)} · {status} ({margin}liquidation at {fmt_pct(liq)})"),
            Line("Health factor", f"{fmt_hf(hf)} (liquidation LTV ÷ LTV)"),
        ]
    else:
        lines = [
            Line("Health factor", f"{fmt_hf(hf)} · {status} (warning below {fmt_hf(warn)}, liquidation below 1.00)"),
            Line("LTV", f"{fmt_pct(ltv)} (borrow limit {fmt_pct(val.max_ltv())}, liquidation at {fmt_pct(risk.liquidation_threshold(e))})"),
        ]
    return Section("Health", tuple(lines))


def liquidation_prices(val: Valuation) -> Section | None:
    """Liquidation (and margin-call) price per asset, with the distance from today's price."""
    if not val.exposure or not val.exposure.debt:
        return None
    lines = []
    for asset, lp in val.liquidation_prices():
        if lp is None:
            lines.append(Line(asset, f"none: {asset} alone cannot bring the health factor to 1"))
            continue
        if not lp.falling and val.terms.preset.debt_at_par:
            continue  # the lender counts this debt at $1 whatever it trades at
        if lp.breached:
            where = f"already {'below' if lp.falling else 'above'} it at {fmt_usd(lp.current)}"
        else:
            where = f"{abs(lp.distance) * 100:.2f}% {'below' if lp.falling else 'above'} {fmt_usd(lp.current)}"
        lines.append(Line(asset, f"{fmt_usd(lp.price)} ({where})"))
        for m, mp in val.margin_prices(asset):
            if mp is not None:
                lines.append(Line("", f"margin call ({fmt_pct(m)} LTV) at {fmt_usd(mp.price)}"))
    return Section("Liquidation price", tuple(lines))


def target_label(val: Valuation, kind: str, value: float) -> str:
    """'health factor 1.50', 'LTV 60.0%', 'collateral ratio 217.5%'."""
    if kind == "hf":
        if val.terms.metric == "cr" and val.terms.min_ratio:
            return f"collateral ratio {fmt_pct(value * val.terms.min_ratio)} (HF {fmt_hf(value)})"
        if val.terms.metric == "ltv" and val.exposure:
            return f"LTV {fmt_pct(risk.liquidation_threshold(val.exposure) / value)} (HF {fmt_hf(value)})"
        return f"health factor {fmt_hf(value)}"
    return f"{'LTV' if kind == 'ltv' else 'collateral ratio'} {fmt_pct(value)}"


def borrowing(val: Valuation, target: tuple[str, float] | None = None) -> Section:
    """How much more can be borrowed: to the lender's limit and to a target."""
    e = val.exposure
    assert e is not None
    lines = []
    headroom = val.headroom()
    if val.lends_nothing:
        lines.append(Line("To the borrow limit", f"none: {lender_name(val.terms)} lends nothing more (its debt ceiling is 0)"))
    elif headroom >= 0:
        lines.append(Line("To the borrow limit", f"{in_units(val, headroom)} more ({fmt_pct(val.max_ltv())} LTV)"))
    else:
        lines.append(Line("To the borrow limit", f"over it by {in_units(val, -headroom)}: the lender would refuse more borrowing"))
    kind, value = target or ("hf", val.levels[0])
    room = val.capacity_to(kind, value)
    past_limit = " (past the lender's borrow limit)" if room > max(0.0, headroom) else ""
    lines.append(Line(f"Keeping {target_label(val, kind, value)}", f"{in_units(val, room)} more{past_limit}"))
    return Section("You can borrow", tuple(lines))


def liquidation_cost(val: Valuation) -> Section | None:
    """What a liquidation would cost, in the lender's own terms, at the rate the figures used."""
    cost = val.liquidation_cost()
    if cost is None or not val.exposure:
        return None
    liquidation = val.terms.preset.liquidation
    model = liquidation.get("model")
    penalty = fmt_usd(cost.penalty) if cost.penalty is not None else None
    name = val.terms.preset.short
    rate = cost.bonus  # the very rate behind the dollar figures, never another leg's
    # Each model fills the figures it knows (risk.liquidation_cost): what is repaid is always known
    # but for a rebalance, and what is seized wherever the absorb, closing or bonus rate is.
    repaid, seized = cost.repaid or 0.0, cost.seized or 0.0
    lines = []
    if model == "close-factor":
        share = repaid / risk.debt_value(val.exposure)
        head = f"A liquidator may repay up to {in_units(val, repaid)} ({share:.0%} of the debt) and take "
        if rate is None:
            text = head + "that much collateral plus a bonus this preset does not list (add 'penalty 5%' to see what it costs)."
        else:
            text = head + f"{fmt_usd(seized)} of collateral: about {penalty} lost to the {rate:.1%} bonus."
    elif model == "absorb":
        loss = f"you lose about {penalty}" if penalty else "its discount on them is not in this preset"
        text = f"{name} absorbs everything: collateral worth about {fmt_usd(seized)} at that point goes for the debt; {loss}."
    elif model == "auction":
        extra = "its penalty (not in this preset)" if rate is None else f"the {rate:.0%} penalty" if rate else "no penalty"
        lost = f"about {penalty} lost" if penalty else "the loss is not known"
        text = f"The vault is auctioned to cover the debt plus {extra}: {lost}, more if the auction sells cheap."
    elif model == "whole-collateral":
        where = "today's prices" if val.hf < 1 else "the liquidation price"
        text = (
            f"The trove is closed: all collateral (about {fmt_usd(seized)} at {where}) covers "
            f"the debt; you keep what you borrowed and lose about {penalty}."
        )
        if "ccr" in val.terms.market.params:  # Liquity v1: above 110 % is not safe in recovery mode
            lines.append(Line("", text))
            text = recovery_mode(val.terms.market)
    elif model == "stability-pool":
        gas = float(liquidation.get("collateral_gas_compensation", "0.005"))
        what = f"the {rate:.0%} penalty and {gas:.1%} of collateral to the liquidator" if rate is not None else "its penalty is not in this preset"
        text = f"The trove is closed: you lose about {penalty or '—'} ({what}); any surplus can be claimed back."
    elif model == "incentive":
        if rate is None:
            text = "A liquidator may repay any part of the debt and take more in collateral, by an incentive this preset does not list."
        else:
            text = f"A liquidator may repay any part of the debt and take {rate:.2%} more in collateral: up to about {penalty} lost."
    elif model == "partial-rebalance":
        text = f"{name} sells collateral in small steps until the LTV is back within limits; no fee beyond exchange fees."
    elif model == "custom":
        text = (
            f"Collateral is sold to repay the loan; with your {rate:.1%} penalty that costs about {penalty}."
            if penalty and rate is not None
            else "Collateral is sold to repay the loan; give 'penalty 5%' when adding the position to see what that costs."
        )
    else:
        fee = f"; the penalty is about {penalty}" if penalty else "; its fee is not in this preset"
        text = f"{name} sells collateral to repay and close the loan{fee}."
    lines.append(Line("", text))
    return Section("If liquidated", tuple(lines))


def price_footer(val: Valuation, now: float) -> str | None:
    """'Prices: ETH coingecko 12 s old; USDC at its $1 peg', and a warning for any price not trusted now."""
    parts, doubts = [], []
    for asset, quote in val.quotes.items():
        if quote.source == "fixed":
            continue
        if quote.source == "peg":
            parts.append(f"{asset} {quote.note}")
            continue
        parts.append(f"{asset} {quote.source}, {age_text(now - quote.as_of)} old")
        if not quote.trusted:
            doubts.append(f"{asset} is shown at its last good price: {quote.note}")
    text = "Prices: " + "; ".join(parts) if parts else ""
    if doubts:
        text += ("\n" if text else "") + "Not confirmed now: " + "; ".join(doubts)
    return text or None


def quote_line(symbol: str, snapshot, now: float) -> Line:
    """/price: price, the sources behind it, its age and whether it is trusted."""
    quote = snapshot.quotes.get(symbol)
    if quote is None:
        return Line(symbol, f"no price: {snapshot.missing.get(symbol, 'unknown')}")
    if quote.source == "fixed":
        return Line(symbol, f"{fmt_usd(quote.price)} (by definition)")
    if quote.source == "peg":
        return Line(symbol, f"{fmt_usd(quote.price)} ({quote.note})")
    sources = quote.source.replace("+", ", ")
    age = age_text(now - quote.as_of)
    if quote.trusted:
        return Line(symbol, f"{fmt_usd(quote.price)} · {sources} · {age} old · trusted")
    return Line(symbol, f"{fmt_usd(quote.price)} · last good price, {age} old ({sources}) · DEGRADED: {quote.note}")


def status(feed, now: float) -> Reply:
    """/status: each source's health, the last tick and the degraded assets."""
    lines = [Line(s.name, f"{s.status} · {s.requests} request{'' if s.requests == 1 else 's'}") for s in feed.sources] or [Line("", "no price source configured")]
    sections = [Section("Price sources", tuple(lines))]
    if feed.last_tick_at is not None:
        tick = f"{age_text(now - feed.last_tick_at)} ago, took {feed.last_tick_seconds * 1000:,.0f} ms, {feed.tracked} assets tracked"
    else:
        tick = f"no scheduled check yet ({feed.tracked} assets tracked)"
    sections.append(Section("Last price check", (Line("", tick),)))
    if feed.degraded:
        sections.append(Section("Degraded", tuple(Line(a, why) for a, why in sorted(feed.degraded.items()))))
    else:
        sections.append(Section("Degraded", (Line("", "nothing: every tracked price is trusted"),)))
    severity = Severity.WARNING if feed.degraded else Severity.OK
    return Reply("Status", tuple(sections), severity)


def monitor_section(info: dict, now: float) -> Section:
    """/status: the last warning check."""
    if not info:
        return Section("Warnings", (Line("", "no warning check yet"),))
    text = (f"last check {age_text(now - info['at'])} ago over {info['positions']:,} positions: "
            f"{info['decisions']} changed, {info['queued']} messages queued, {info['total_ms']:,.0f} ms")
    return Section("Warnings", (Line("", text),))


def queue_section(outbox, chat_key: str, chat_name: str) -> Section:
    """/status: the outbox, and what could not be delivered to the chat asking (only that chat's own)."""
    counts = outbox.counts()
    lines = [Line("Messages", f"{counts['pending']} waiting, {counts['sent']} sent, {counts['dead']} undeliverable")]
    for key, reason in outbox.disabled_destinations():
        if key == chat_key:
            lines.append(Line("Not delivering", f"to {chat_name}: {reason}"))
    for alert, key, reason in outbox.dead_letters(20):
        if key == chat_key:
            lines.append(Line("Undelivered", f"{alert}: {reason}"))
    return Section("Delivery", tuple(lines))
