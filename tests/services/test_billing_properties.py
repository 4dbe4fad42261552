"""Random invoices issued through the services: what the database keeps, what the Factur-X
XML says and what exact arithmetic gives agree to the cent.

Slow (each example orders, delivers, invoices and renders a PDF), hence few examples. Each
runs in a savepoint of the test's transaction, rolled back after it, so examples never
see each other: that is why the function-scoped fixtures are safe here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from purchasing.billing import run
from purchasing.billing.facturx import validate_facturx_xml
from purchasing.billing.models import Invoice
from purchasing.catalog.pricing import Billing
from purchasing.events import DomainEvent
from tests.documents import cii, cii_amount, embedded_xml, euros, half_up_cents, pdf_text
from tests.factories import make_family, make_member, make_order, make_product, make_supplier
from tests.factories.billing import ISSUE_DATE, billing_settings

D = Decimal
FEBRUARY = run.periods.month(2026, 2)
RATES = (D("0.2000"), D("0.1000"), D("0.0550"), D("0.0210"))

order_lines = st.lists(
    st.tuples(
        st.sampled_from([Billing.ONE_OFF, Billing.MONTHLY]),
        st.integers(1, 5_000_000).map(lambda cents: D(cents).scaleb(-2)),  # unit price
        st.integers(1, 500_000).map(lambda n: D(n).scaleb(-3)),  # quantity, to 3 decimals
        st.sampled_from(RATES),
    ),
    min_size=1,
    max_size=6,
)


def issue_random_invoice(session, lines, served_on: date) -> int:
    """One order of ``lines`` delivered (one-off) or commissioned (monthly) on
    ``served_on``, invoiced for February 2026: monthly lines are prorated by day."""
    member = make_member(session)
    family, supplier = make_family(session), make_supplier(session)
    products = [
        (
            make_product(
                session,
                family=family,
                supplier=supplier,
                billing=billing,
                cost=price,
                price=price,
                vat_rate=rate,
            ),
            quantity,
        )
        for billing, price, quantity, rate in lines
    ]
    make_order(session, member=member, lines=products, status="delivered", delivered_on=served_on)
    (invoice,) = run.invoice_member(
        session,
        member.id,
        FEBRUARY,
        settings=billing_settings(),
        issued_by=None,
        issue_date=ISSUE_DATE,
    )
    return invoice.id


def exact_line_amount(line) -> Fraction:
    amount = Fraction(line.unit_price) * Fraction(line.quantity)
    if line.prorata_days is not None:
        amount *= Fraction(line.prorata_days, line.period_days)
    return amount


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # Explaining a failure replays it hundreds of times: minutes, for a slow example.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(lines=order_lines, served_from=st.integers(1, 28))
def test_an_issued_invoice_its_xml_and_exact_arithmetic_agree(
    connection, session_factory, lines, served_from
):
    example = connection.begin_nested()
    try:
        with session_factory() as session:
            invoice_id = issue_random_invoice(session, lines, date(2026, 2, served_from))
        with session_factory() as session:  # read back what the database kept
            check_invoice(session, session.get(Invoice, invoice_id), served_from)
    finally:
        example.rollback()


def check_invoice(session, invoice: Invoice, served_from: int) -> None:
    nets = [line.net_amount for line in invoice.lines]
    for line in invoice.lines:
        assert line.net_amount == half_up_cents(exact_line_amount(line))
        if line.subscription_id is not None and served_from > 1:
            assert (line.prorata_days, line.period_days) == (29 - served_from, 28)
    rates = sorted({line.vat_rate for line in invoice.lines}, reverse=True)
    assert sorted((vat.rate for vat in invoice.vat_lines), reverse=True) == rates
    for vat in invoice.vat_lines:
        assert vat.base == sum(
            line.net_amount for line in invoice.lines if line.vat_rate == vat.rate
        )
        assert vat.amount == half_up_cents(Fraction(vat.base) * Fraction(vat.rate))
    assert invoice.total_net == sum(nets)
    assert invoice.total_vat == sum(vat.amount for vat in invoice.vat_lines)
    assert invoice.total_gross == invoice.total_net + invoice.total_vat
    assert invoice.amount_due == invoice.outstanding == invoice.total_gross

    xml = invoice.document.xml
    validate_facturx_xml(xml)
    assert embedded_xml(invoice.document.pdf) == xml
    assert cii_amount(xml, "LineTotalAmount") == invoice.total_net
    assert cii_amount(xml, "TaxBasisTotalAmount") == invoice.total_net
    assert cii_amount(xml, "TaxTotalAmount") == invoice.total_vat
    assert cii_amount(xml, "GrandTotalAmount") == invoice.total_gross
    assert cii_amount(xml, "DuePayableAmount") == invoice.amount_due
    line_totals = "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
    assert [D(total) for total in cii(xml, line_totals)] == nets
    header_tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
    assert sorted(
        zip(
            map(D, cii(xml, f"{header_tax}/ram:BasisAmount")),
            map(D, cii(xml, f"{header_tax}/ram:CalculatedAmount")),
            strict=True,
        )
    ) == sorted((vat.base, vat.amount) for vat in invoice.vat_lines)
    assert f"Net à payer {euros(invoice.amount_due)}" in pdf_text(invoice.document.pdf)

    event = session.scalar(
        select(DomainEvent).where(
            DomainEvent.kind == "invoice.issued", DomainEvent.entity_id == str(invoice.id)
        )
    )
    assert D(event.payload["total_gross"]) == invoice.total_gross
