"""Impermanent loss of liquidity positions: constant-product (Uniswap v2 style) and concentrated ranges (Uniswap v3).

Prices are of the volatile asset (x) in the quote asset (y), e.g. ETH in USDC. Results are fractions:
-0.05719 means the LP position is worth 5.719 % less than simply holding what went in. Fees are not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _check_price(name: str, price: float) -> None:
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"{name} must be a positive price, got {price!r}")


def _check_range(pa: float, pb: float) -> None:
    _check_price("pa", pa)
    _check_price("pb", pb)
    if pa >= pb:
        raise ValueError(f"the range must have pa < pb, got [{pa!r}, {pb!r}]")


def constant_product_il(price_ratio: float) -> float:
    """IL of a full-range (x*y=k) position when the price moves by `price_ratio` (P1 / P0): 2*sqrt(r)/(1 + r) - 1."""
    _check_price("price_ratio", price_ratio)
    return 2 * math.sqrt(price_ratio) / (1 + price_ratio) - 1


@dataclass(frozen=True)
class RangePosition:
    """A concentrated-liquidity position: its liquidity L and the amounts of x (volatile) and y (quote) it holds."""

    liquidity: float
    x: float
    y: float


def range_amounts(liquidity: float, price: float, pa: float, pb: float) -> tuple[float, float]:
    """(x, y) held by liquidity L in [pa, pb] at `price` (Uniswap v3 LiquidityAmounts; all x below pa, all y above pb)."""
    _check_range(pa, pb)
    _check_price("price", price)
    if not (math.isfinite(liquidity) and liquidity >= 0):
        raise ValueError(f"liquidity must be a non-negative number, got {liquidity!r}")
    # Outside the range the position has been converted entirely into one asset, so clamp the price to the edge.
    p = min(max(price, pa), pb)
    x = liquidity * (1 / math.sqrt(p) - 1 / math.sqrt(pb))
    y = liquidity * (math.sqrt(p) - math.sqrt(pa))
    return x, y


def range_position(value: float, p0: float, pa: float, pb: float) -> RangePosition:
    """Put `value` (in the quote asset, e.g. USD) into the range [pa, pb] at price p0, which must lie inside it."""
    _check_range(pa, pb)
    _check_price("p0", p0)
    if not pa <= p0 <= pb:
        raise ValueError(f"the entry price {p0!r} must lie inside the range [{pa!r}, {pb!r}]")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"value must be a positive amount, got {value!r}")
    # value = x*p0 + y, and both x and y are L times a known factor at p0, so L falls out directly.
    per_unit_x, per_unit_y = range_amounts(1.0, p0, pa, pb)
    liquidity = value / (per_unit_x * p0 + per_unit_y)
    return RangePosition(liquidity, per_unit_x * liquidity, per_unit_y * liquidity)


def concentrated_il(value: float, p0: float, p1: float, pa: float, pb: float) -> float:
    """IL at p1 of `value` put into [pa, pb] at p0, against holding the initial x0 and y0: (x1*p1 + y1) / (x0*p1 + y0) - 1."""
    start = range_position(value, p0, pa, pb)
    x1, y1 = range_amounts(start.liquidity, p1, pa, pb)
    return (x1 * p1 + y1) / (start.x * p1 + start.y) - 1


def fees_to_break_even(il: float) -> float:
    """The fee return (a fraction of the LP position's value at p1) that makes up for `il`: -il / (1 + il)."""
    if not math.isfinite(il) or il <= -1:
        raise ValueError(f"impermanent loss must be a finite fraction above -1, got {il!r}")
    # The LP holds (1 + il) of what holding would be worth; fees f on that value close the gap when (1 + il)(1 + f) = 1.
    return -il / (1 + il)
