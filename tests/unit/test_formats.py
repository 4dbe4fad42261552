from datetime import date
from decimal import Decimal

from purchasing.formats import euros, french_date, number, percent

NNBSP = "\u202f"  # narrow no-break space, the French thousands separator
NBSP = "\u00a0"


def test_euros_in_french_format():
    assert euros(Decimal("1234.56")) == f"1{NNBSP}234,56{NBSP}€"
    assert euros(Decimal("2120172.13")) == f"2{NNBSP}120{NNBSP}172,13{NBSP}€"
    assert euros(Decimal("0.5")) == f"0,50{NBSP}€"
    assert euros(Decimal("-12")) == f"-12,00{NBSP}€"


def test_number_percent_and_date():
    assert number(Decimal("1234.5")) == f"1{NNBSP}234,5"
    assert percent(Decimal("0.2")) == f"20{NBSP}%"
    assert percent(Decimal("0.055")) == f"5,5{NBSP}%"
    assert french_date(date(2026, 11, 3)) == "03/11/2026"
