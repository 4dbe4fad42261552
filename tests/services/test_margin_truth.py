"""Margin truth: the margin each wholesaler line earned on its supplier's invoices, against
the margin rate the syndicat deliberated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.pricing import Billing
from purchasing.errors import PermissionDenied
from purchasing.orders import purchase_orders
from purchasing.orders.margins import margin_truth
from purchasing.orders.models import OrderStatus
from purchasing.orders.purchase_orders import InvoiceLineInput
from purchasing.totals import document_totals
from tests.factories import (
    catalog_family,
    invoice_in_full,
    make_family,
    make_order,
    make_product,
    make_user,
)
from tests.factories.catalog import TARIFF_DELIBERATION

D = Decimal
S = OrderStatus


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def camera(session):
    """Bought 100.00, sold 105.38 (family rate 5.38 %)."""
    return make_product(session, sku="CAM", billing=Billing.ONE_OFF, cost="100.00")


def record_invoice(session, purchase_order, unit_costs, *, number="F-1", on=date(2026, 2, 1)):
    """A supplier invoice billing each purchase order line in full at ``unit_costs``."""
    lines = []
    for po_line, unit_cost in zip(purchase_order.lines, unit_costs, strict=True):
        unit_cost = D(unit_cost)
        recurring = po_line.is_recurring
        lines.append(
            InvoiceLineInput(
                purchase_order_line_id=po_line.id,
                quantity=po_line.quantity,
                unit_cost=unit_cost,
                amount=(unit_cost * po_line.quantity).quantize(D("0.01")),
                vat_rate=po_line.vat_rate,
                period_start=date(2026, 2, 1) if recurring else None,
                period_end=date(2026, 2, 28) if recurring else None,
            )
        )
    totals = document_totals((line.amount, line.vat_rate) for line in lines)
    return purchase_orders.record_supplier_invoice(
        session,
        purchase_order_id=purchase_order.id,
        invoice_number=number,
        invoice_date=on,
        lines=lines,
        total_excl_vat=totals.total_excl_vat,
        total_vat=totals.total_vat,
        total_incl_vat=totals.total_incl_vat,
        actor=None,
    )


def sent_order(session, lines, **kw):
    order = make_order(session, lines=lines, status=S.DELIVERED, **kw)
    return order, order.purchase_orders[0]


def test_a_line_invoiced_at_its_catalogue_cost_is_examined_not_listed(session, buyer):
    # 3.40 at 5.38 % sells 3.58: 5.29 %, the rounding of the price to the cent.
    mailbox = make_product(session, billing=Billing.ONE_OFF, cost="3.40")
    _order, purchase_order = sent_order(session, [(mailbox, 10)])
    invoice_in_full(session, purchase_order)

    report = margin_truth(session, actor=buyer)

    assert (report.lines_examined, report.lines) == (1, ())


def test_a_supplier_invoicing_above_the_catalogue_cost_shows_the_real_margin(
    session, buyer, camera
):
    order, purchase_order = sent_order(session, [(camera, 3)])
    invoice = record_invoice(session, purchase_order, ["102.00"])
    purchase_orders.accept_supplier_invoice(
        session, invoice.id, reason="révision de prix du marché", actor=buyer
    )

    report = margin_truth(session, actor=buyer)

    [line] = report.lines
    assert (line.order_reference, line.sku, line.invoiced_quantity) == (
        order.reference, "CAM", D("3.000"),
    )  # fmt: skip
    assert (line.sale_amount, line.catalogue_cost, line.invoiced_cost) == (
        D("316.14"), D("300.00"), D("306.00"),
    )  # fmt: skip
    assert line.margin == D("10.14")
    assert (line.real_rate, line.deliberated_rate) == (D("0.0331"), D("0.0538"))
    assert line.rate_difference == D("-0.0207")
    assert (line.deliberated_margin, line.margin_gap) == (D("16.46"), D("-6.32"))
    assert line.tolerance == D("0.03")  # half a cent x 3 units + a cent for the invoice line
    assert (line.rate_deliberation, line.price_deliberation) == (
        TARIFF_DELIBERATION, TARIFF_DELIBERATION,
    )  # fmt: skip
    assert report.margin_gap == D("-6.32")


def test_the_rate_is_cited_with_its_own_deliberation_not_the_prices(session, buyer):
    # As shipped: the family's rate set by 2024-17, the prices by 2024-41.
    rate_act = Deliberation("2024-17", date(2024, 3, 12))
    price_act = Deliberation("2024-41", date(2024, 12, 10))
    family = make_family(session, margin_rate=D("0.0162"), margin_deliberation=rate_act)
    camera = make_product(
        session, family=family, billing=Billing.ONE_OFF, cost="480.00", deliberation=price_act
    )
    _order, purchase_order = sent_order(session, [camera])
    invoice = record_invoice(session, purchase_order, ["490.00"])
    purchase_orders.accept_supplier_invoice(session, invoice.id, reason="révision", actor=buyer)
    # A later rate, by a later act, changes nothing of what the line was priced under.
    family.margin_rate, family.margin_deliberation = (
        D("0.0300"),
        Deliberation("2026-39", date(2026, 12, 8)),
    )
    session.commit()

    [line] = margin_truth(session, actor=buyer).lines

    assert (line.deliberated_rate, line.rate_deliberation) == (D("0.0162"), rate_act)
    assert line.price_deliberation == price_act


def test_an_explicit_sale_price_off_the_deliberated_rate_is_listed(session, buyer):
    generous = make_product(
        session, sku="GEN", billing=Billing.ONE_OFF, cost="100.00", price="120.00"
    )
    _order, purchase_order = sent_order(session, [generous])
    invoice_in_full(session, purchase_order)

    [line] = margin_truth(session, actor=buyer).lines

    assert (line.margin, line.real_rate, line.margin_gap) == (D("20.00"), D("0.2000"), D("14.62"))


def test_a_recurring_line_counts_its_setup_fee_with_its_periods(session, buyer):
    site = make_product(
        session, sku="SITE", billing=Billing.MONTHLY, cost="19.00", setup_fee_cost="290.00"
    )
    _order, purchase_order = sent_order(session, [(site, 2)])
    invoice = record_invoice(session, purchase_order, ["19.00", "300.00"])
    purchase_orders.accept_supplier_invoice(
        session, invoice.id, reason="frais révisés", actor=buyer
    )

    [line] = margin_truth(session, actor=buyer).lines

    # Item: 2 x 20.02 sold, 2 x 19.00 invoiced; fee: 2 x 305.60 sold, 2 x 300.00 invoiced.
    assert (line.invoiced_quantity, line.invoice_lines) == (D("2.000"), 2)
    assert (line.sale_amount, line.invoiced_cost, line.catalogue_cost) == (
        D("651.24"), D("638.00"), D("618.00"),
    )  # fmt: skip
    assert line.margin == D("13.24")


def test_invoices_out_of_the_books_are_left_out(session, buyer, camera):
    _order, purchase_order = sent_order(session, [(camera, 2)])
    rejected = record_invoice(session, purchase_order, ["150.00"], number="F-REJ")
    purchase_orders.reject_supplier_invoice(session, rejected.id, reason="prix faux", actor=buyer)
    _other, pending_order = sent_order(session, [(camera, 2)])
    record_invoice(session, pending_order, ["150.00"], number="F-PENDING")  # a mismatch

    assert margin_truth(session, actor=buyer).lines_examined == 0


def test_intermediary_lines_earn_no_margin_and_are_never_examined(session, buyer):
    link = make_product(session, family=catalog_family(session, "telecom"), cost="45.00")
    order = make_order(session, lines=[link], status=S.DELIVERED)
    assert order.purchase_orders == []
    assert margin_truth(session, actor=buyer).lines_examined == 0


def test_the_report_is_filtered_by_invoice_year_and_family(session, buyer, camera):
    _order, purchase_order = sent_order(session, [camera])
    invoice = record_invoice(session, purchase_order, ["110.00"], on=date(2025, 12, 20))
    purchase_orders.accept_supplier_invoice(session, invoice.id, reason="accepté", actor=buyer)

    assert len(margin_truth(session, actor=buyer, year=2025).lines) == 1
    assert margin_truth(session, actor=buyer, year=2026).lines_examined == 0
    family = camera.family.code
    assert len(margin_truth(session, actor=buyer, family=family).lines) == 1
    assert margin_truth(session, actor=buyer, family="video_protection").lines_examined == 0


def test_member_users_cannot_read_the_margins(session, camera):
    agent, _ = make_user(session, role="member")
    with pytest.raises(PermissionDenied):
        margin_truth(session, actor=agent)
