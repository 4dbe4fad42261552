"""Pure pricing rules: derived and explicit prices, validity periods, price checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import (
    Billing,
    PriceTerms,
    PurchaseMode,
    Validity,
    effective_sale_price,
    effective_setup_fee_price,
    overlapping_pairs,
    price_problems,
)

D = Decimal


@pytest.mark.parametrize(
    ("cost", "margin", "expected"),
    [
        # 10.125 is exactly half a cent: half-up gives 10.13 (banker's rounding 10.12).
        ("10.00", "0.0125", "10.13"),
        # 3.20 x 1.0538 = 3.37216
        ("3.20", "0.0538", "3.37"),
        # 18.00 x 1.0538 = 18.9684
        ("18.00", "0.0538", "18.97"),
        # 480.00 x 1.0162 = 487.776
        ("480.00", "0.0162", "487.78"),
        ("49.00", "0", "49.00"),
    ],
)
def test_derived_sale_price_is_cost_plus_margin_rounded_half_up(cost, margin, expected):
    price = effective_sale_price(PriceTerms(supplier_cost=D(cost)), D(margin))
    assert price == D(expected)
    assert price.as_tuple().exponent == -2


def test_an_explicit_sale_price_wins_over_the_margin():
    terms = PriceTerms(supplier_cost=D("18.00"), sale_price=D("19.00"))
    assert effective_sale_price(terms, D("0.0538")) == D("19.00")


def test_setup_fee_price_is_derived_like_the_price_or_taken_as_given():
    assert effective_setup_fee_price(
        PriceTerms(D("10"), setup_fee_cost=D("150.00")), D("0.0538")
    ) == D("158.07")
    explicit = PriceTerms(D("10"), setup_fee_cost=D("150.00"), setup_fee_price=D("160.00"))
    assert effective_setup_fee_price(explicit, D("0.0538")) == D("160.00")
    assert effective_setup_fee_price(PriceTerms(D("10")), D("0.0538")) is None


def test_validity_includes_both_ends():
    period = Validity(date(2025, 1, 1), date(2025, 12, 31))
    assert not period.covers(date(2024, 12, 31))
    assert period.covers(date(2025, 1, 1))
    assert period.covers(date(2025, 12, 31))
    assert not period.covers(date(2026, 1, 1))


def test_an_open_ended_validity_covers_every_later_day():
    period = Validity(date(2025, 1, 1))
    assert period.covers(date(2099, 1, 1))
    assert not period.covers(date(2024, 12, 31))


def test_a_validity_cannot_end_before_it_starts():
    with pytest.raises(ValueError, match="before valid_from"):
        Validity(date(2025, 2, 1), date(2025, 1, 31))


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ((date(2025, 1, 1), date(2025, 12, 31)), (date(2026, 1, 1), None), False),
        # Sharing the last day is an overlap: valid_to is inclusive.
        ((date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 12, 31), None), True),
        ((date(2025, 1, 1), None), (date(2030, 1, 1), date(2030, 1, 1)), True),
        ((date(2025, 3, 1), date(2025, 3, 31)), (date(2025, 1, 1), date(2025, 12, 31)), True),
    ],
)
def test_overlap_of_two_validities(first, second, overlap):
    a, b = Validity(*first), Validity(*second)
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap


def test_overlapping_pairs_names_neighbours_whatever_the_input_order():
    periods = [
        Validity(date(2026, 1, 1)),  # 0
        Validity(date(2024, 1, 1), date(2024, 12, 31)),  # 1
        Validity(date(2025, 1, 1), date(2026, 1, 1)),  # 2: shares 2026-01-01 with 0
    ]
    assert overlapping_pairs(periods) == [(2, 0)]
    assert overlapping_pairs(periods[1:]) == []


def _problems(terms: PriceTerms, mode=PurchaseMode.WHOLESALER, billing=Billing.MONTHLY):
    return price_problems(terms, purchase_mode=mode, billing=billing)


def test_a_wholesaler_never_resells_below_cost():
    problems = _problems(PriceTerms(D("100.00"), sale_price=D("99.99")))
    assert "below the supplier_cost 100.00" in problems["sale_price"]
    assert _problems(PriceTerms(D("100.00"), sale_price=D("100.00"))) == {}


def test_a_wholesaler_never_charges_a_setup_fee_below_its_cost():
    terms = PriceTerms(D("10"), setup_fee_cost=D("150.00"), setup_fee_price=D("149.00"))
    assert "below the setup_fee_cost" in _problems(terms)["setup_fee_price"]


def test_an_intermediary_item_sells_at_the_market_price():
    mode = PurchaseMode.INTERMEDIARY
    assert _problems(PriceTerms(D("49.00")), mode) == {}
    assert _problems(PriceTerms(D("49.00"), sale_price=D("49.00")), mode) == {}
    assert (
        "market price"
        in _problems(PriceTerms(D("49.00"), sale_price=D("50.00")), mode)["sale_price"]
    )


def test_a_setup_fee_goes_with_recurring_items_only():
    terms = PriceTerms(D("480.00"), setup_fee_cost=D("100.00"))
    assert "recurring" in _problems(terms, billing=Billing.ONE_OFF)["setup_fee_cost"]
    assert _problems(terms, billing=Billing.YEARLY) == {}


def test_a_setup_fee_price_needs_its_cost():
    terms = PriceTerms(D("10"), setup_fee_price=D("150.00"))
    assert "setup_fee_cost" in _problems(terms)["setup_fee_price"]
