from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purchasing.money import NotAnAmount, apply_margin, line_amount, round_cents, to_decimal


def test_half_up_to_the_cent():
    assert round_cents(Decimal("0.005")) == Decimal("0.01")
    assert round_cents(Decimal("0.0049")) == Decimal("0.00")
    assert round_cents(Decimal("-0.005")) == Decimal("-0.01")
    assert round_cents("2.675") == Decimal("2.68")  # a float would have said 2.67


def test_floats_are_refused():
    with pytest.raises(NotAnAmount):
        to_decimal(0.1)
    with pytest.raises(NotAnAmount):
        to_decimal("abc")
    with pytest.raises(NotAnAmount):
        to_decimal("NaN")


def test_margin_on_supplier_cost():
    # 2024 video-protection: bought 2 086 336,87, sold 2 120 172,13 (rate 1,62 %)
    assert apply_margin(Decimal("1000.00"), Decimal("0.0162")) == Decimal("1016.20")
    assert apply_margin(Decimal("33.33"), Decimal("0.0538")) == Decimal("35.12")


def test_line_amount():
    assert line_amount(Decimal("19.99"), 3) == Decimal("59.97")
    assert line_amount(Decimal("0.333"), Decimal("3")) == Decimal("1.00")


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=6))
def test_rounding_is_within_half_a_cent(value):
    rounded = round_cents(value)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - value) <= Decimal("0.005")


def test_prorated_line_amount_rounds_once():
    # 21 days of 30 at 100.00 a month: 70.00
    assert line_amount(Decimal("100.00"), 1, days=21, period_days=30) == Decimal("70.00")
    # 2 licences, 1 day of 30 at 10.00: 0.6666... -> 0.67 (a rounded daily price says 0.66)
    assert line_amount(Decimal("10.00"), 2, days=1, period_days=30) == Decimal("0.67")
    # 1 day of 30 at 0.15: 0.005 -> 0.01 (half-up)
    assert line_amount(Decimal("0.15"), 1, days=1, period_days=30) == Decimal("0.01")
    assert line_amount(Decimal("99.99"), 1, days=30, period_days=30) == Decimal("99.99")
    with pytest.raises(ValueError):
        line_amount(Decimal("1"), 1, days=31, period_days=30)
    with pytest.raises(ValueError):
        line_amount(Decimal("1"), 1, days=3)
