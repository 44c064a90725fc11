"""Charts as PNG bytes: an asset's price against its liquidation and warning levels; health against price.

Rendered with matplotlib's Agg canvas on a Figure object, never through pyplot: no global
backend switch, no global style, no figure registry to leak or to close, and safe to call from
worker threads. Fonts and sizes are set per element so the same input gives the same bytes.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from core.lending import risk

SIZE = (10, 5.6)  # inches at DPI: 1000 x 560 px
DPI = 100
FONT = 10
LIQUIDATION, DANGER, WARNING = "tab:red", "darkorange", "gold"
TEXT = {WARNING: "darkgoldenrod"}  # gold lines, but gold text on white is unreadable


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=FONT)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # Software is the only metadata Agg writes by default (the version); dropping it keeps the bytes
    # equal across matplotlib upgrades too.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _usd(span: float) -> FuncFormatter:
    """A $1,234 tick formatter with as many decimals as the axis span needs (BTC vs LINK)."""
    decimals = 0 if span >= 50 else 2 if span >= 0.5 else 4
    return FuncFormatter(lambda v, _pos: f"${v:,.{decimals}f}")


def _money(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}" if abs(v) >= 1 else f"${v:,.4f}"


def price_chart(series: list[tuple[int, float]], asset: str, liquidation: float | None, warning: float | None,
                danger: float | None, title: str) -> bytes:
    """PNG: the asset's price over time (UTC) with its liquidation, danger and warning price levels."""
    fig, ax = _figure()
    if series:
        times = [datetime.fromtimestamp(ts, UTC) for ts, _ in series]
        # matplotlib converts datetimes itself (its stubs admit only numbers)
        ax.plot(times, [p for _, p in series], color="tab:blue", linewidth=1.4, label=f"{asset} price")  # type: ignore[arg-type]
        if len(times) > 1:  # tight on the data: date ticks outside it crowd the month's first label
            ax.set_xlim(times[0], times[-1])  # type: ignore[arg-type]
    else:
        ax.text(0.5, 0.5, "no price history", transform=ax.transAxes, ha="center", va="center", fontsize=FONT + 2)
    for level, name, color, style in ((liquidation, "Liquidation", LIQUIDATION, "-"), (danger, "Danger", DANGER, "--"),
                                      (warning, "Warning", WARNING, "--")):
        if level is None or not math.isfinite(level):
            continue
        ax.axhline(level, color=color, linestyle=style, linewidth=1.6, label=f"{name} {_money(level)}")
        # the value also at the line's right end, where the eye meets it after reading the latest price
        ax.text(1.0, level, f" {_money(level)}", transform=ax.get_yaxis_transform(), color=TEXT.get(color, color), fontsize=FONT - 1,
                va="center", ha="left", clip_on=False)
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    low, high = ax.get_ylim()
    ax.yaxis.set_major_formatter(_usd(high - low))
    ax.set_xlabel("time (UTC)", fontsize=FONT)
    ax.set_ylabel(f"{asset} price (USD)", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=FONT, loc="best")
    return _png(fig)


def health_curve(prices: list[float], health: list[float], asset: str, current_price: float, liquidation: float | None,
                 warn: float, danger: float, title: str) -> bytes:
    """PNG: health factor against the asset's price, with the level bands and the current and liquidation prices."""
    fig, ax = _figure()
    top = max(3.0, warn * 1.5)
    # bands from the top down so each label names the zone it colours
    ax.axhspan(danger, warn, color=WARNING, alpha=0.18, label=f"warning (HF < {warn:g})")
    ax.axhspan(1.0, danger, color=DANGER, alpha=0.2, label=f"danger (HF < {danger:g})")
    ax.axhspan(0.0, 1.0, color=LIQUIDATION, alpha=0.2, label="liquidatable (HF < 1)")
    # an infinite HF (no debt) sits on the top edge instead of vanishing from the plot
    ax.plot(prices, [min(h, top) for h in health], color="tab:blue", linewidth=1.8, label="health factor")
    ax.axvline(current_price, color="black", linestyle=":", linewidth=1.4, label=f"now {_money(current_price)}")
    if liquidation is not None and math.isfinite(liquidation):
        ax.axvline(liquidation, color=LIQUIDATION, linewidth=1.6, label=f"liquidation {_money(liquidation)}")
    ax.set_ylim(0.0, top)
    if prices:
        ax.set_xlim(min(prices), max(prices))
    low, high = ax.get_xlim()
    ax.xaxis.set_major_formatter(_usd(high - low))
    ax.set_xlabel(f"{asset} price (USD)", fontsize=FONT)
    ax.set_ylabel("health factor", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 3)
    ax.legend(fontsize=FONT, loc="upper left")
    return _png(fig)


def health_points(exposure: risk.Exposure, asset: str, low: float = 0.2, high: float = 2.0,
                  points: int = 120) -> tuple[list[float], list[float]]:
    """Prices of `asset` from low to high times its current price, and the health factor at each."""
    legs: list[risk.CollateralLeg | risk.DebtLeg] = [*exposure.collateral, *exposure.debt]
    current = next((leg.price for leg in legs if leg.asset == asset), None)
    if current is None:
        raise ValueError(f"{asset} is not in the position")
    if points < 2 or not 0 <= low < high:
        raise ValueError("need at least 2 points and 0 <= low < high")
    steps = [low + (high - low) * i / (points - 1) for i in range(points)]
    return [current * m for m in steps], [risk.health_factor(risk.stressed(exposure, {asset: m})) for m in steps]
