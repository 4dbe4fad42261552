"""Totals of a priced document (quote, invoice, supplier invoice): one rule, written once.

EN 16931 and French invoicing rules: each line amount is rounded half-up to the cent
first (``purchasing.money.line_amount``); the VAT of a rate is computed once, on the sum of
the line amounts of that rate, and rounded half-up; the total including VAT is the sum of
those parts, so every figure printed adds up to the cent.

Quotes and supplier invoices (orders) and invoices and credit notes (billing) all use
it. It imports nothing of the project but ``purchasing.money``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from purchasing.money import ZERO, round_cents, round_rate


@dataclass(frozen=True)
class VatBreakdown:
    """The VAT of one rate: its base (sum of the line amounts at that rate) and amount."""

    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True)
class DocumentTotals:
    total_excl_vat: Decimal
    #: One entry per VAT rate, highest rate first.
    vat: tuple[VatBreakdown, ...]
    total_vat: Decimal
    total_incl_vat: Decimal


def document_totals(lines: Iterable[tuple[Decimal, Decimal]]) -> DocumentTotals:
    """Totals of ``(line amount excl. VAT, VAT rate)`` pairs, amounts already to the cent.

    A line amount with fractions of a cent is refused rather than rounded here: rounding
    belongs to the line (``line_amount``), and rounding twice could shift a cent.
    """
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for amount, rate in lines:
        if round_cents(amount) != amount:
            raise ValueError(f"line amount {amount} is not rounded to the cent")
        bases[round_rate(rate)] += amount
    breakdown = tuple(
        VatBreakdown(rate=rate, base=base, vat=round_cents(base * rate))
        for rate, base in sorted(bases.items(), reverse=True)
    )
    total_excl_vat = sum((part.base for part in breakdown), ZERO)
    total_vat = sum((part.vat for part in breakdown), ZERO)
    return DocumentTotals(
        total_excl_vat=total_excl_vat,
        vat=breakdown,
        total_vat=total_vat,
        total_incl_vat=total_excl_vat + total_vat,
    )
