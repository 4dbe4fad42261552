"""Rounding of random invoices, against exact fractions (EN 16931 and French rules).

Each line amount is quantity x unit price (x days / period days), rounded half-up to the
cent once; the VAT of a rate is its base (the sum of its lines) x the rate, rounded
half-up once; every total is the exact sum of its parts. The oracle here computes with
:class:`fractions.Fraction`, exactly, and rounds with integers: it shares no code with
the figures it checks.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purchasing.billing.document import (
    InconsistentDocument,
    InvoiceLine,
    check_consistency,
    compute_totals,
)
from tests.documents import half_up_cents
from tests.unit.invoice_documents import make_document, make_line

D = Decimal
CENT = D("0.01")
RATES = (D("0.2000"), D("0.1000"), D("0.0550"), D("0.0210"))


def exact_gross(line: InvoiceLine) -> Fraction:
    amount = Fraction(line.unit_price) * Fraction(line.quantity)
    if line.prorata_days is not None:
        amount *= Fraction(line.prorata_days, line.period_days)
    return amount


def _decimals(places: int, most: int, *, least: int = 0) -> st.SearchStrategy[Decimal]:
    """Decimals with ``places`` decimals, from ``least`` to ``most`` units of the last one."""
    return st.integers(least, most * 10**places).map(lambda n: D(n).scaleb(-places))


#: To 3 decimals, and tenths: 0.5 x a price in cents is a tie (x.xx5) half-up decides.
QUANTITIES = st.one_of(_decimals(3, 10_000, least=1), _decimals(1, 20, least=5))
#: To 4 decimals, and to 3 decimals, which are a tie once in ten.
UNIT_PRICES = st.one_of(_decimals(4, 100_000), _decimals(3, 1_000))


@st.composite
def lines(draw, *, aid_in_vat_base: bool = True, with_aid: bool = False) -> list[InvoiceLine]:
    """1 to 30 lines: quantities to 3 decimals, unit prices to 4, a VAT rate of
    :data:`RATES`, some prorated by day, some (``with_aid``) with a FEDER aid."""
    drawn = []
    for position in range(1, draw(st.integers(1, 30)) + 1):
        quantity = draw(QUANTITIES)
        unit_price = draw(UNIT_PRICES)
        prorata_days = period_days = None
        if draw(st.booleans()):
            period_days = draw(st.sampled_from([28, 29, 30, 31, 365, 366]))
            prorata_days = draw(st.integers(1, period_days))
        gross = half_up_cents(
            Fraction(unit_price)
            * Fraction(quantity)
            * (Fraction(prorata_days, period_days) if prorata_days else 1)
        )
        aid = None
        if with_aid and gross > 0 and draw(st.booleans()):
            aid = str(D(draw(st.integers(1, int(gross * 100)))) / 100)
        drawn.append(
            make_line(
                position,
                quantity=str(quantity),
                unit_price=str(unit_price),
                vat_rate=draw(st.sampled_from(RATES)),
                prorata_days=prorata_days,
                period_days=period_days,
                aid_amount=aid,
                aid_in_vat_base=aid_in_vat_base,
            )
        )
    return drawn


@given(lines())
def test_each_line_is_its_price_rounded_half_up_once(drawn):
    for line in drawn:
        assert line.net_amount == half_up_cents(exact_gross(line))


@given(st.data(), st.booleans())
def test_vat_per_rate_on_the_sum_of_its_lines_and_totals_sum_their_parts(data, aid_in_vat_base):
    drawn = data.draw(lines(aid_in_vat_base=aid_in_vat_base, with_aid=True))

    totals = compute_totals(drawn, aid_in_vat_base=aid_in_vat_base)

    rates = sorted({line.vat_rate for line in drawn}, reverse=True)
    assert [vat.rate for vat in totals.vat_breakdown] == rates
    for vat in totals.vat_breakdown:
        assert vat.base == sum(line.net_amount for line in drawn if line.vat_rate == vat.rate)
        assert vat.amount == half_up_cents(Fraction(vat.base) * Fraction(vat.rate))
    line_total = sum(line.net_amount for line in drawn)
    assert totals.total_net == line_total == sum(vat.base for vat in totals.vat_breakdown)
    assert totals.total_vat == sum(vat.amount for vat in totals.vat_breakdown)
    assert totals.total_gross == totals.total_net + totals.total_vat
    aid = sum(line.aid_amount for line in drawn if line.aid_amount is not None)
    if aid_in_vat_base:
        # A price complement paid by the fund: taxed, then deducted from what is due.
        assert totals.amount_due == totals.total_gross - aid
    else:
        # A price reduction: the lines are net of it, the member pays the whole total.
        for line in drawn:
            expected = half_up_cents(exact_gross(line)) - (line.aid_amount or 0)
            assert line.net_amount == expected
        assert totals.amount_due == totals.total_gross
    figures = [totals.total_net, totals.total_vat, totals.total_gross, totals.amount_due]
    assert all(figure == figure.quantize(CENT) for figure in figures)


def _first_a_cent_more(parts: tuple, name: str) -> tuple:
    first = parts[0]
    return (dataclasses.replace(first, **{name: getattr(first, name) + CENT}), *parts[1:])


#: Ways to be a cent off, each with the field check_consistency must then name.
CENT_OFF = {
    "lines[0].net_amount": lambda doc: {"lines": _first_a_cent_more(doc.lines, "net_amount")},
    "vat_breakdown[0].amount": lambda doc: {
        "vat_breakdown": _first_a_cent_more(doc.vat_breakdown, "amount")
    },
    "total_net": lambda doc: {"total_net": doc.total_net + CENT},
    "total_vat": lambda doc: {"total_vat": doc.total_vat + CENT},
    "total_gross": lambda doc: {"total_gross": doc.total_gross - CENT},
    "amount_due": lambda doc: {"amount_due": doc.amount_due + CENT},
}


@given(lines(with_aid=True), st.sampled_from(sorted(CENT_OFF)))
def test_a_document_is_accepted_as_computed_and_refused_a_cent_off(drawn, field):
    document = make_document(drawn)
    check_consistency(document)  # as computed: accepted

    with pytest.raises(InconsistentDocument) as refused:
        check_consistency(dataclasses.replace(document, **CENT_OFF[field](document)))

    assert field in refused.value.errors
