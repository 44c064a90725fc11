"""Help, greeting and the lender-preset pages."""

from __future__ import annotations

from core.chat.commands import COMMANDS
from core.lending.protocols import Market, Preset, Presets
from core.replies import Line, Reply, Section, text_lines


def start() -> Reply:
    """The greeting: what the bot does and three things to try."""
    return Reply(
        "collateral-bot: know how close your loans are to liquidation",
        (
            Section(
                None,
                text_lines(
                    "Register what you borrow against (Aave, Compound, Maker, Liquity, Morpho, Nexo, Ledn, Binance "
                    "or your own lender's terms) and ask how healthy it is, where it gets liquidated, how much more "
                    "you can borrow and what a crash would do.",
                ),
            ),
            Section(
                "Try",
                text_lines(
                    "/add 10 ETH borrow 15000 USDC on aave-v3",
                    "/health 1",
                    "/capacity 1 hf 1.5",
                    "/whatif ETH -30%",
                    "/help for every command",
                ),
            ),
        ),
    )


def overview() -> Reply:
    """Every command with its one-line summary."""
    lines = tuple(Line(spec.usage.split()[0], spec.summary) for spec in COMMANDS.values())
    return Reply("Commands", (Section(None, lines),), footer="/help COMMAND shows its usage and examples.")


def command(name: str) -> Reply:
    """One command: usage and examples."""
    spec = COMMANDS[name]
    sections = [Section(None, text_lines(spec.summary))]
    if spec.examples:
        sections.append(Section("Examples", text_lines(*spec.examples)))
    return Reply(f"/{name}", tuple(sections), usage=spec.usage)


def presets_overview(presets: Presets) -> Reply:
    """One line per lender preset with its markets and date."""
    lines = []
    for p in presets:
        markets = ", ".join(m.id for m in p.markets) if len(p.markets) > 1 else ""
        dates = sorted(_dates(p))
        lines.append(Line(p.id, f"{p.name}{' — ' + markets if markets else ''} (as of {', '.join(dates)})"))
    return Reply("Lender presets", (Section(None, tuple(lines)),), footer="/protocols NAME shows its parameters and sources.")


def recovery_mode(market: Market) -> str:
    """Liquity v1's recovery mode in one line, from the market's CCR and MCR (docs/lending.md)."""
    ccr, mcr = float(market.params["ccr"]), float(market.params["mat"])
    return (
        f"In recovery mode (the whole system's collateral ratio below {ccr:.0%}) a trove under the "
        f"system's ratio can be liquidated even above {mcr:.0%}, and new borrowing must keep {ccr:.0%}."
    )


def _dates(preset: Preset) -> set[str]:
    """Every date a preset's parameters carry: its markets', any asset's own, its liquidation rule's."""
    dates = {m.as_of for m in preset.markets} | {t.as_of for m in preset.markets for t in (m.collateral or {}).values()}
    return {d for d in dates | {preset.liquidation.get("as_of", "")} if d}


def _liquidation_rule(preset: Preset) -> str:
    """The liquidation rule of a preset in one sentence, with its parameters."""
    liq = preset.liquidation
    model = liq.get("model")
    if model == "close-factor":
        return (f"a liquidator repays up to {float(liq['close_factor']):.0%} of the debt for the asset's bonus; all of a "
                f"reserve at or below HF {float(liq['full_close_below_hf']):.2f}, or when its debt or collateral is "
                f"under ${float(liq['full_close_below_usd']):,.0f}")
    if model == "absorb":
        return "the protocol absorbs all collateral, credited at each asset's liquidation factor; the excess over the debt stays yours"
    if model == "auction":
        return "the vault is auctioned for its debt plus the market's penalty; the rest is returned"
    if model == "whole-collateral":
        return "below the minimum ratio all collateral goes and the debt is cancelled"
    if model == "stability-pool":
        gas = float(liq["collateral_gas_compensation"])
        return f"the debt plus the branch's penalty and {gas:.1%} of collateral to the liquidator; any surplus can be claimed back"
    if model == "incentive":
        return (f"a liquidator repays any part of the debt for collateral worth it times "
                f"min({liq['max_incentive']}, 1 / (1 - {liq['liquidation_cursor']} × (1 - LLTV)))")
    if model == "partial-rebalance":
        fee = "; no fee beyond exchange fees" if liq.get("penalty") == "0" else ""
        return f"collateral is sold in small steps until the LTV is back within limits{fee}"
    if model == "custom":
        return "collateral is sold to repay the loan, with the penalty you give"
    return "collateral is sold to repay and close the loan"


def preset_detail(preset: Preset) -> Reply:
    """Every market of a preset with its parameters, date and source."""
    sections = []
    for market in preset.markets:
        lines: list[Line] = []
        params = market.params
        if "mat" in params:
            lines.append(Line("Minimum collateral ratio", f"{float(params['mat']):.0%}"))
        if "initial_ltv" in params:
            lines.append(Line("Initial LTV", f"{float(params['initial_ltv']):.1%}"))
        if "margin_ltvs" in params:
            lines.append(Line("Margin calls at LTV", ", ".join(f"{float(x):.1%}" for x in params["margin_ltvs"])))
        if "liquidation_ltv" in params:
            lines.append(Line("Liquidation at LTV", f"{float(params['liquidation_ltv']):.1%}"))
        if "penalty" in params:
            lines.append(Line("Liquidation penalty", f"{float(params['penalty']):.0%}"))
        for key, label in (("min_debt", "Minimum debt"), ("min_net_debt", "Minimum net debt"), ("gas_reserve", "Gas reserve")):
            if key in params:
                lines.append(Line(label, f"{float(params[key]):,.0f}"))
        if "borrowing_fee" in params:
            lines.append(Line("Borrowing fee (default)", f"{float(params['borrowing_fee']):.1%}"))
        if "interest_rate_range" in params:
            low, high = (float(x) for x in params["interest_rate_range"])
            lines.append(Line("Interest rate", f"set by you, {low:.1%} to {high:.0%} a year"))
        if "ccr" in params and preset.liquidation.get("model") == "whole-collateral":
            lines.append(Line("Recovery mode", recovery_mode(market)))
        if isinstance(market.collateral, dict) and "mat" not in params:
            for symbol, t in market.collateral.items():
                penalty = f", penalty {t.penalty:.1%}" if t.penalty is not None else ""
                # a parameter changed since the market's snapshot shows its own date and source
                own = f" (as of {t.as_of}; {t.source})" if (t.as_of, t.source) != (market.as_of, market.source) else ""
                lines.append(Line(symbol, f"LTV {t.ltv:.1%}, liquidation threshold {t.lt:.1%}{penalty}{own}"))
        elif isinstance(market.collateral, dict):
            lines.append(Line("Collateral", ", ".join(market.collateral)))
        elif preset.id == "morpho":
            lines.append(Line("LLTV choices", ", ".join(f"{float(c):.1%}" for c in preset.lltv_choices)))
        else:
            lines.append(Line("Collateral", "any listed asset"))
        lines.append(Line("Borrow", ", ".join(market.debt) if market.debt else "any listed asset"))
        lines.append(Line("As of", market.as_of))
        lines.append(Line("Source", market.source))
        title = market.id if market.name == market.id else f"{market.id}: {market.name}"
        sections.append(Section(title, tuple(lines)))
    liq = preset.liquidation
    sections.append(Section("Liquidation", (
        Line("Rule", _liquidation_rule(preset)),
        Line("As of", liq.get("as_of", "")),
        Line("Source", liq.get("source", "")),
    )))
    return Reply(f"{preset.name}" + (f" ({preset.chain})" if preset.chain else ""), tuple(sections),
                 footer="Override per position with ltv / lt (and lltv for Morpho), e.g. 'on aave-v3 lt 80%'.")
