"""The margin truth report through the API: staff read it, members never."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.pricing import Billing
from purchasing.orders import purchase_orders
from purchasing.orders.models import OrderStatus
from purchasing.orders.purchase_orders import InvoiceLineInput
from tests.factories import make_family, make_order, make_product


def test_staff_read_the_lines_whose_margin_differs(api_as, session):
    # As shipped: the family's rate set by 2024-17, the prices by 2024-41.
    family = make_family(session, margin_deliberation=Deliberation("2024-17", date(2024, 3, 12)))
    camera = make_product(
        session, sku="CAM", family=family, billing=Billing.ONE_OFF, cost="100.00",
        deliberation=Deliberation("2024-41", date(2024, 12, 10)),
    )  # fmt: skip
    order = make_order(session, lines=[(camera, 2)], status=OrderStatus.DELIVERED)
    [po_line] = order.purchase_orders[0].lines
    invoice = purchase_orders.record_supplier_invoice(
        session,
        purchase_order_id=po_line.purchase_order_id,
        invoice_number="F-77",
        invoice_date=date(2026, 2, 1),
        lines=[
            InvoiceLineInput(
                purchase_order_line_id=po_line.id, quantity=Decimal(2),
                unit_cost=Decimal("104.00"), amount=Decimal("208.00"), vat_rate=Decimal("0.2000"),
            )
        ],
        total_excl_vat=Decimal("208.00"), total_vat=Decimal("41.60"),
        total_incl_vat=Decimal("249.60"), actor=None,
    )  # fmt: skip
    purchase_orders.accept_supplier_invoice(session, invoice.id, reason="hausse", actor=None)

    response = api_as("auditor").get("/margin-truth?year=2026")

    assert response.status_code == 200
    body = response.json
    assert (body["year"], body["lines_examined"], body["margin_gap"]) == (2026, 1, "-8.43")
    [line] = body["lines"]
    assert {k: line[k] for k in ("sku", "sale_amount", "invoiced_cost", "margin")} == {
        "sku": "CAM",
        "sale_amount": "210.76",
        "invoiced_cost": "208.00",
        "margin": "2.76",
    }
    assert (line["real_rate"], line["deliberated_rate"], line["rate_difference"]) == (
        "0.0133", "0.0538", "-0.0405",
    )  # fmt: skip
    assert (line["deliberated_margin"], line["margin_gap"], line["tolerance"]) == (
        "11.19", "-8.43", "0.02",
    )  # fmt: skip
    assert line["rate_deliberation"] == {"reference": "2024-17", "date": "2024-03-12"}
    assert line["price_deliberation"] == {"reference": "2024-41", "date": "2024-12-10"}


def test_members_never_read_the_margins(api_as):
    assert api_as("member").get("/margin-truth").status_code == 403


def test_a_bad_year_is_refused_naming_the_field(api_as):
    response = api_as("finance").get("/margin-truth?year=20026")
    assert response.status_code == 422
    assert "year" in response.json["errors"]["query"]
