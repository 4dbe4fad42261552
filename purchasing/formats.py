"""French formatting of amounts, numbers, rates and dates (Babel), for pages and documents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = "fr_FR"


def euros(value: Decimal | None) -> str:
    """Decimal('1234.5') -> '1 234,50 €' (narrow no-break space between thousands)."""
    if value is None:
        return ""
    return format_currency(value, "EUR", locale=LOCALE)


def unit_price(value: Decimal | None) -> str:
    """Like :func:`euros`, keeping up to four decimals: Decimal('0.0125') -> '0,0125 €'."""
    if value is None:
        return ""
    return format_currency(
        value, "EUR", format="#,##0.00##\u00a0¤", currency_digits=False, locale=LOCALE
    )


def quantity(value: Decimal | int | None) -> str:
    """Up to four decimals, as invoices carry them: Decimal('0.5484') -> '0,5484'."""
    return "" if value is None else format_decimal(value, format="#,##0.####", locale=LOCALE)


def number(value: Decimal | int | None) -> str:
    return "" if value is None else format_decimal(value, locale=LOCALE)


def percent(value: Decimal | None) -> str:
    """Decimal('0.2') -> '20 %'; Decimal('0.055') -> '5,5 %'."""
    if value is None:
        return ""
    return format_percent(value, format="#,##0.##\u00a0%", locale=LOCALE)


def french_date(value: date | datetime | None) -> str:
    return "" if value is None else format_date(value, format="dd/MM/yyyy", locale=LOCALE)


FILTERS = {
    "euros": euros,
    "unit_price": unit_price,
    "quantity": quantity,
    "number": number,
    "percent": percent,
    "french_date": french_date,
}
