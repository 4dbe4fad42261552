"""Money arithmetic: the one place where amounts are rounded.

Amounts are ``decimal.Decimal`` everywhere; this module quantises them to the cent,
half-up, as French invoicing rules and EN 16931 expect. It imports nothing of the project.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: Rates (margin, VAT, aid) keep four decimals: 0.2000 is 20 %.
RATE_QUANTUM = Decimal("0.0001")


class NotAnAmount(ValueError):
    """Raised when a value cannot be read as an amount of money."""


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Read ``value`` as a Decimal, refusing floats (they carry binary noise)."""
    # Most calls pass an amount already read: a few hundred per invoice issued.
    if type(value) is Decimal and value.is_finite():
        return value
    if isinstance(value, float):
        raise NotAnAmount(f"float {value!r} refused: money is never a float")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise NotAnAmount(f"{value!r} is not a number") from exc
    if not result.is_finite():
        raise NotAnAmount(f"{value!r} is not a finite number")
    return result


def round_cents(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half-up (0.005 -> 0.01)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def round_rate(value: Decimal | int | str) -> Decimal:
    """Round a rate to four decimals, half-up."""
    return to_decimal(value).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def apply_margin(cost: Decimal, margin_rate: Decimal) -> Decimal:
    """Sale price from supplier cost and resale margin rate, rounded to the cent."""
    return round_cents(to_decimal(cost) * (1 + to_decimal(margin_rate)))


def line_amount(
    unit_price: Decimal,
    quantity: Decimal | int,
    *,
    days: int | None = None,
    period_days: int | None = None,
) -> Decimal:
    """Amount of an invoice or order line: unit price x quantity, half-up to the cent.

    With ``days`` of ``period_days``, the amount of a partial period, prorated by day and
    rounded once, at the end (a rounded daily price would drift by cents).
    """
    amount = to_decimal(unit_price) * to_decimal(quantity)
    if days is not None or period_days is not None:
        if days is None or not period_days or not 0 <= days <= period_days:
            raise ValueError(f"prorata {days}/{period_days} is not a part of a period")
        amount = amount * days / period_days
    return round_cents(amount)
