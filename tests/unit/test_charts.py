"""Charts: real PNGs of the promised size, the same bytes for the same input, no crash on missing levels."""

from __future__ import annotations

import struct

import pytest

from core.lending import risk
from core.market import charts

HOUR = 3600
T0 = 1_583_020_800  # 2020-03-01T00:00Z
SERIES = [(T0 + h * HOUR, 220 - 120 * (h / 300) + (h % 7)) for h in range(320)]  # a crash with some noise
VECTOR_A = risk.Exposure((risk.CollateralLeg("ETH", 10, 3_000, 0.83, 0.805),), (risk.DebtLeg("USDC", 15_000, 1),))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always comes first."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check(data: bytes) -> None:
    assert png_size(data) == (1000, 560)
    assert len(data) > 10_000


def test_price_chart():
    args = (SERIES, "ETH", 130.0, 180.0, 150.0, "ETH in March 2020")
    data = charts.price_chart(*args)
    check(data)
    assert charts.price_chart(*args) == data


def test_price_chart_without_levels_or_data():
    check(charts.price_chart(SERIES, "ETH", None, None, None, "no debt"))
    check(charts.price_chart(SERIES, "ETH", None, 180.0, 150.0, "no liquidation price"))
    assert png_size(charts.price_chart([], "ETH", None, None, None, "empty")) == (1000, 560)


def test_health_curve():
    prices, health = charts.health_points(VECTOR_A, "ETH")
    args = (prices, health, "ETH", 3_000.0, 1_807.23, 1.5, 1.2, "Position 1: health against ETH")
    data = charts.health_curve(*args)
    check(data)
    assert charts.health_curve(*args) == data
    check(charts.health_curve(prices, health, "ETH", 3_000.0, None, 1.5, 1.2, "no liquidation price"))
    check(charts.health_curve(prices, [float("inf")] * len(prices), "ETH", 3_000.0, None, 1.5, 1.2, "no debt"))


def test_health_points_follow_the_risk_math():
    prices, health = charts.health_points(VECTOR_A, "ETH", low=0.5, high=1.5, points=11)
    assert prices[0] == pytest.approx(1_500) and prices[-1] == pytest.approx(4_500) and len(health) == 11
    assert health[5] == pytest.approx(1.66)  # today's price: vector A
    assert health == sorted(health)  # more ETH price, more health
    prices, health = charts.health_points(VECTOR_A, "ETH", low=0.6, high=0.7, points=2)
    assert prices[0] == pytest.approx(1_800) and health[0] == pytest.approx(0.996)  # vector H: ETH -40 %
    with pytest.raises(ValueError):
        charts.health_points(VECTOR_A, "BTC")
