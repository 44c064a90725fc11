"""Help, greeting and the lender-preset pages."""

from __future__ import annotations

from .commands import COMMANDS
from .protocols import Preset, Presets
from .replies import Line, Reply, Section, text_lines


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
        dates = sorted({m.as_of for m in p.markets})
        lines.append(Line(p.id, f"{p.name}{' — ' + markets if markets else ''} (as of {', '.join(dates)})"))
    return Reply("Lender presets", (Section(None, tuple(lines)),), footer="/protocols NAME shows its parameters and sources.")


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
        if isinstance(market.collateral, dict) and "mat" not in params:
            for symbol, t in market.collateral.items():
                penalty = f", penalty {t.penalty:.1%}" if t.penalty is not None else ""
                lines.append(Line(symbol, f"LTV {t.ltv:.1%}, liquidation threshold {t.lt:.1%}{penalty}"))
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
    return Reply(f"{preset.name}" + (f" ({preset.chain})" if preset.chain else ""), tuple(sections),
                 footer="Override per position with ltv / lt (and lltv for Morpho), e.g. 'on aave-v3 lt 80%'.")
