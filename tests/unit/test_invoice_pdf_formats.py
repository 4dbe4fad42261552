"""The French number filters invoices add to purchasing.formats: prices and quantities."""

from decimal import Decimal

from purchasing.formats import quantity, unit_price

NNBSP = "\u202f"  # narrow no-break space, the French thousands separator
NBSP = "\u00a0"


def test_unit_prices_keep_two_to_four_decimals():
    assert unit_price(Decimal("49.9")) == f"49,90{NBSP}€"
    assert unit_price(Decimal("0.0125")) == f"0,0125{NBSP}€"
    assert unit_price(Decimal("1234.5")) == f"1{NNBSP}234,50{NBSP}€"
    assert unit_price(None) == ""


def test_quantities_keep_up_to_four_decimals_and_no_trailing_zeros():
    assert quantity(Decimal("0.5484")) == "0,5484"
    assert quantity(Decimal("12.000")) == "12"
    assert quantity(Decimal("1234.5")) == f"1{NNBSP}234,5"
    assert quantity(None) == ""
