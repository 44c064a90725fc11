"""Impermanent loss: docs/lending.md's worked examples for constant-product and concentrated ranges, break-even fees, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.market.il import RangePosition, concentrated_il, constant_product_il, fees_to_break_even, range_amounts, range_position


def pct(fraction: float) -> float:
    """A fraction as a percentage rounded to 4 decimals, the precision docs/lending.md gives."""
    return round(fraction * 100, 4)


@pytest.mark.parametrize("ratio, expected", [(2, -5.719), (4, -20.0), (0.5, -5.719), (0.25, -20.0), (1, 0.0)])
def test_constant_product_vectors(ratio, expected):
    assert round(constant_product_il(ratio) * 100, 3) == expected


def test_range_position_vector():
    # docs/lending.md: $10,000 into [2000, 4000] at 3000 -> L = 575.0766, x0 = 1.406655 ETH, y0 = 5,780.04 USDC.
    position = range_position(10_000, 3000, 2000, 4000)
    assert isinstance(position, RangePosition)
    assert round(position.liquidity, 4) == 575.0766
    assert round(position.x, 6) == 1.406655
    assert round(position.y, 2) == 5780.04
    assert position.x * 3000 + position.y == pytest.approx(10_000)


@pytest.mark.parametrize(
    "p1, expected, full_range",
    [
        (3500, -1.8892, -0.2963),
        (2500, -2.5721, None),
        (2000, -12.3428, None),
        (4000, -6.6086, None),
        (5000, -16.8612, -3.1754),  # above the range: all USDC by then
    ],
)
def test_concentrated_vectors(p1, expected, full_range):
    assert pct(concentrated_il(10_000, 3000, p1, 2000, 4000)) == expected
    if full_range is not None:
        assert pct(constant_product_il(p1 / 3000)) == full_range


def test_no_move_no_loss():
    assert concentrated_il(10_000, 3000, 3000, 2000, 4000) == pytest.approx(0.0, abs=1e-12)


def test_range_amounts_at_and_beyond_the_edges():
    liquidity = range_position(10_000, 3000, 2000, 4000).liquidity
    below = range_amounts(liquidity, 1000, 2000, 4000)
    at_pa = range_amounts(liquidity, 2000, 2000, 4000)
    assert below == at_pa and below[1] == 0.0
    assert below[0] == pytest.approx(liquidity * (1 / math.sqrt(2000) - 1 / math.sqrt(4000)))
    above = range_amounts(liquidity, 9000, 2000, 4000)
    assert above == range_amounts(liquidity, 4000, 2000, 4000) and above[0] == 0.0
    assert above[1] == pytest.approx(liquidity * (math.sqrt(4000) - math.sqrt(2000)))


def test_a_range_position_loses_more_than_full_range():
    # Concentration multiplies fees and IL alike: the docs/lending.md example shows it, and it holds for every move in range.
    for p1 in (2100, 2600, 3300, 3900):
        assert concentrated_il(10_000, 3000, p1, 2000, 4000) < constant_product_il(p1 / 3000) < 0


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_constant_product_is_a_loss_between_0_and_100_percent(ratio):
    assert -1 < constant_product_il(ratio) <= 1e-15


def test_fees_to_break_even():
    assert fees_to_break_even(-0.20) == pytest.approx(0.25)  # 80 % of the hold value needs +25 % to get back to 100 %
    assert fees_to_break_even(-0.05719) == pytest.approx(0.05719 / 0.94281)
    assert fees_to_break_even(0.0) == 0.0
    il = concentrated_il(10_000, 3000, 5000, 2000, 4000)
    assert (1 + il) * (1 + fees_to_break_even(il)) == pytest.approx(1.0)


@pytest.mark.parametrize("il", [-1.0, -1.5, math.nan, math.inf])
def test_fees_to_break_even_rejects_impossible_losses(il):
    with pytest.raises(ValueError):
        fees_to_break_even(il)


@pytest.mark.parametrize("ratio", [0, -1, math.nan, math.inf])
def test_constant_product_rejects_bad_ratios(ratio):
    with pytest.raises(ValueError):
        constant_product_il(ratio)


@pytest.mark.parametrize(
    "value, p0, pa, pb",
    [
        (10_000, 3000, 4000, 2000),  # pa > pb
        (10_000, 3000, 3000, 3000),  # empty range
        (10_000, 1500, 2000, 4000),  # entry below the range
        (10_000, 4500, 2000, 4000),  # entry above the range
        (10_000, 0, 2000, 4000),
        (10_000, 3000, -2000, 4000),
        (10_000, 3000, 2000, math.inf),
        (0, 3000, 2000, 4000),
        (-5, 3000, 2000, 4000),
        (math.nan, 3000, 2000, 4000),
    ],
)
def test_range_position_errors(value, p0, pa, pb):
    with pytest.raises(ValueError):
        range_position(value, p0, pa, pb)


@pytest.mark.parametrize("p1", [0, -3000, math.nan])
def test_concentrated_il_rejects_bad_exit_prices(p1):
    with pytest.raises(ValueError):
        concentrated_il(10_000, 3000, p1, 2000, 4000)


def test_range_amounts_errors():
    with pytest.raises(ValueError):
        range_amounts(-1.0, 3000, 2000, 4000)
    with pytest.raises(ValueError):
        range_amounts(575.0, 3000, 4000, 2000)
    with pytest.raises(ValueError):
        range_amounts(575.0, 0, 2000, 4000)
