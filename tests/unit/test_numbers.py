"""parse_amount keeps every digit it accepts; fmt_amount shows tiny amounts; fmt_hf never shows a liquidatable position as 1.00."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import InvalidAmount
from core.lending.numbers import fmt_amount, fmt_hf, parse_amount, parse_decimal, parse_percent


def test_a_number_just_under_the_limit_is_not_rounded_up_to_it():
    # 31 significant digits: the default context made it 1E+15; now it is refused, not rounded
    with pytest.raises(InvalidAmount, match="significant digits"):
        parse_amount("999999999999999.9999999999999999")
    with pytest.raises(InvalidAmount, match="larger"):
        parse_amount("1000000000000000.1")


def test_long_fractions_are_kept_exactly_or_refused():
    assert parse_amount("1234567890123.123456789012345") == Decimal("1234567890123.123456789012345")  # 28 digits
    with pytest.raises(InvalidAmount, match="significant digits"):
        parse_amount("12345678901234.123456789012345")  # 29: it lost its last digit before
    assert parse_amount("999999999999.999999999999999k") == Decimal("999999999999999.999999999999")
    assert parse_amount("0.000000000000000001") == Decimal("1e-18")
    assert parse_amount("1.50000000000000000000000000000") == Decimal("1.5")  # trailing zeros are not digits kept


@pytest.mark.parametrize("hf", [1 - 1e-12, 1 - 1e-10, 0.9999, 0.996])
def test_a_health_factor_below_one_never_reads_1_00(hf):
    assert fmt_hf(hf) == "0.99"


def test_health_factors_at_and_above_one():
    assert fmt_hf(1.0) == "1.00"
    assert fmt_hf(1.66) == "1.66"
    assert fmt_hf(24900 / 15000) == "1.66"
    assert fmt_hf(0.885) == "0.88"


def test_tiny_amounts_keep_their_significant_digits():
    assert fmt_amount(Decimal("0.000000000000000001")) == "0.000000000000000001"  # one wei of ETH is not 0
    assert fmt_amount(Decimal("0.000000012345678912")) == "0.000000012345679"
    assert fmt_amount(Decimal("0.12345678912")) == "0.12345679"
    assert fmt_amount(Decimal("1234.123456789")) == "1,234.12345679"


def test_a_bad_percentage_or_number_is_named_for_what_was_wanted():
    with pytest.raises(InvalidAmount, match=r"'abc' is not a percentage \(like 5.2%\)"):
        parse_percent("abc")
    with pytest.raises(InvalidAmount, match=r"'x' is not a number \(like 1.5\)"):
        parse_decimal("x")
    with pytest.raises(InvalidAmount, match=r"'ten' is not an amount \(try 15000"):
        parse_amount("ten")
