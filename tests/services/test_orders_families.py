"""The whole path of an order for each family of the catalogue, on a real database.

Wholesaler families (video-protection, Mairie Connectée, cybersecurity): the member orders,
the centre approves (one purchase order per supplier), sends, records deliveries and
commissionings (a subscription for a recurring item), matches the supplier invoices, closes.
Intermediary families (telecom, IoT): the same follow-up, but no purchase order, no
subscription and no event: the member contracts and pays the supplier directly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.catalog.loader import load_catalog
from purchasing.catalog.models import Supplier
from purchasing.catalog.pricing import Billing
from purchasing.catalog.services import get_product
from purchasing.config import PROJECT_ROOT
from purchasing.events import DomainEvent
from purchasing.fields import today_in_paris
from purchasing.orders import purchase_orders, services
from purchasing.orders.models import (
    Order,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderLineKind,
    PurchaseOrderStatus,
    Subscription,
    SupplierInvoiceStatus,
)
from purchasing.orders.purchase_orders import InvoiceLineInput
from purchasing.orders.services import LineInput
from tests.factories import (
    catalog_family,
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
    make_user,
)

D = Decimal
S = OrderStatus
ORDER_DATE = date(2026, 1, 15)
DELIVERED_ON = date(2026, 2, 2)
COMMISSIONED_ON = date(2026, 2, 1)


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def member(session):
    return make_member(session, name="Communauté de communes du Pays de Lumbres")


@pytest.fixture
def agent(session, member):
    return make_user(session, role="member", member=member)[0]


def events(session, kind: str | None = None) -> list[DomainEvent]:
    query = select(DomainEvent).order_by(DomainEvent.id)
    if kind is not None:
        query = query.where(DomainEvent.kind == kind)
    return list(session.scalars(query))


@pytest.mark.parametrize("family_code", ["video_protection", "mairie_connectee", "cybersecurity"])
def test_the_whole_path_of_a_wholesaler_family(session, buyer, agent, member, family_code):
    family = catalog_family(session, family_code)
    works_supplier, service_supplier = make_supplier(session), make_supplier(session)
    one_off = make_product(
        session, family=family, supplier=works_supplier, billing=Billing.ONE_OFF, cost="1000.00"
    )
    recurring = make_product(
        session,
        family=family,
        supplier=service_supplier,
        billing=Billing.MONTHLY,
        cost="30.00",
        setup_fee_cost="200.00",
    )
    sale = (family.margin_rate + 1) * D("1000.00")

    # The staff key in the member's order; the member's user submits it.
    order = services.create_order(
        session,
        actor=buyer,
        member_id=member.id,
        order_date=ORDER_DATE,
        engagement_number="EJ-2026-0042",
        lines=[LineInput(one_off.sku, D(2)), LineInput(recurring.sku, D(3), delivery_site="Siège")],
    )
    services.submit_order(session, order.id, actor=agent)
    works_line, service_line = order.lines
    assert works_line.sale_price == sale.quantize(D("0.01"))
    assert not works_line.contracted_directly_by_member

    # Approval: one purchase order per supplier, numbered in the BCF series, at cost.
    services.approve_order(session, order.id, actor=buyer)
    year = today_in_paris().year
    works_po, service_po = order.purchase_orders
    assert [po.number for po in order.purchase_orders] == [
        f"BCF-{year}-000001",
        f"BCF-{year}-000002",
    ]
    assert (works_po.supplier_id, works_po.status) == (
        works_supplier.id,
        PurchaseOrderStatus.ISSUED,
    )
    assert [(line.kind, line.quantity, line.unit_cost, line.amount) for line in works_po.lines] == [
        (PurchaseOrderLineKind.ITEM, D(2), D("1000.00"), D("2000.00"))
    ]
    assert [
        (line.kind, line.billing, line.unit_cost, line.amount) for line in service_po.lines
    ] == [
        (PurchaseOrderLineKind.ITEM, Billing.MONTHLY, D("30.00"), D("90.00")),
        (PurchaseOrderLineKind.SETUP_FEE, Billing.ONE_OFF, D("200.00"), D("600.00")),
    ]

    services.send_order(session, order.id, actor=buyer)
    assert order.status is S.ORDERED
    assert {po.status for po in order.purchase_orders} == {PurchaseOrderStatus.SENT}

    # Delivery of the one-off item, commissioning of the recurring one.
    services.record_delivery(
        session, order.id, works_line.id, quantity=D(2), delivered_on=DELIVERED_ON, actor=buyer
    )
    assert order.status is S.PARTLY_DELIVERED
    services.record_commissioning(
        session, order.id, service_line.id, commissioned_on=COMMISSIONED_ON, actor=buyer
    )
    assert order.status is S.DELIVERED
    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.member_id, subscription.start_date) == (member.id, COMMISSIONED_ON)
    assert (subscription.unit_price, subscription.quantity_on(COMMISSIONED_ON)) == (
        service_line.sale_price,
        D(3),
    )
    assert service_line.setup_fee_due_on == COMMISSIONED_ON
    assert [e.kind for e in events(session)] == ["order.line_delivered", "subscription.started"]

    # The works supplier invoices as ordered: matched, in the books.
    works_invoice = invoice_in_full(session, works_po, number="W-1", invoice_date=DELIVERED_ON)
    assert works_invoice.status is SupplierInvoiceStatus.MATCHED
    assert works_po.status is PurchaseOrderStatus.INVOICED
    [recorded] = events(session, "purchase.recorded")
    assert recorded.payload["lines_by_account"] == [
        {"purchase_account": family.purchase_account.number, "amount_excl_vat": "2000.00"}
    ]

    # The service supplier bills the set-up fee at a higher price: flagged, not booked...
    lines = [
        InvoiceLineInput(
            service_po.lines[0].id,
            D(3),
            D("30.00"),
            D("90.00"),
            D("0.2"),
            COMMISSIONED_ON,
            date(2026, 2, 28),
        ),
        InvoiceLineInput(service_po.lines[1].id, D(3), D("210.00"), D("630.00"), D("0.2")),
    ]
    flagged = purchase_orders.record_supplier_invoice(
        session,
        purchase_order_id=service_po.id,
        invoice_number="S-77",
        invoice_date=date(2026, 3, 1),
        lines=lines,
        total_excl_vat=D("720.00"),
        total_vat=D("144.00"),
        total_incl_vat=D("864.00"),
        actor=buyer,
    )
    assert flagged.status is SupplierInvoiceStatus.MISMATCH
    assert flagged.lines[1].mismatches == [
        "unit cost 210.00 differs from the ordered 200.00",
        "amount 630.00 differs from the expected 600.00 (3 x 200.00)",
    ]
    assert len(events(session, "purchase.recorded")) == 1
    # ... until the staff accept it, saying why.
    purchase_orders.accept_supplier_invoice(
        session, flagged.id, reason="Avenant n° 2 : frais révisés", actor=buyer
    )
    assert flagged.status is SupplierInvoiceStatus.ACCEPTED
    assert events(session, "purchase.recorded")[-1].payload["mismatch_accepted"] is True

    services.close_order(session, order.id, actor=buyer)
    session.expire_all()
    assert session.get(Order, order.id).status is S.CLOSED


@pytest.mark.parametrize("family_code", ["telecom", "iot"])
def test_the_whole_path_of_an_intermediary_family(session, buyer, agent, member, family_code):
    family = catalog_family(session, family_code)
    holder = make_supplier(session, name="Titulaire du marché")
    link = make_product(
        session,
        family=family,
        supplier=holder,
        billing=Billing.MONTHLY,
        cost="49.00",
        setup_fee_cost="150.00",
    )
    sensor = make_product(
        session, family=family, supplier=holder, billing=Billing.ONE_OFF, cost="95.00"
    )

    order = services.create_order(
        session,
        actor=buyer,
        member_id=member.id,
        order_date=ORDER_DATE,
        lines=[LineInput(link.sku, D(1)), LineInput(sensor.sku, D(20))],
    )
    services.submit_order(session, order.id, actor=agent)
    link_line, sensor_line = order.lines
    assert link_line.contracted_directly_by_member and sensor_line.contracted_directly_by_member
    # The member pays the market price; the centre's books have no account for it.
    assert (link_line.sale_price, link_line.setup_fee_price) == (D("49.00"), D("150.00"))
    assert (link_line.sales_account, link_line.purchase_account) == (None, None)

    services.approve_order(session, order.id, actor=buyer)
    services.send_order(session, order.id, actor=buyer)
    assert order.purchase_orders == []
    assert order.status is S.ORDERED

    # Followed all the same: commissioning and delivery dates are kept.
    services.record_commissioning(
        session, order.id, link_line.id, commissioned_on=COMMISSIONED_ON, actor=buyer
    )
    services.record_delivery(
        session, order.id, sensor_line.id, quantity=D(20), delivered_on=DELIVERED_ON, actor=buyer
    )
    assert order.status is S.DELIVERED
    assert (link_line.commissioned_on, link_line.setup_fee_due_on) == (COMMISSIONED_ON, None)
    assert sensor_line.delivered_quantity == D(20)
    services.close_order(session, order.id, actor=buyer)

    # Never a purchase, never an invoice of the centre: nothing for the ledger or billing.
    assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    assert session.scalar(select(func.count()).select_from(Subscription)) == 0
    assert events(session) == []


def test_an_order_of_real_skus_of_the_shipped_catalogue(session, buyer, member):
    load_catalog(session, PROJECT_ROOT / "catalog", loaded_by=None)
    skus = {
        "VID-ETUDE": 1,
        "VID-CAM-DOME": 4,
        "MC-MESSAGERIE": 10,
        "MC-SITE": 1,
        "CYB-DIAGNOSTIC": 1,
        "TEL-FTTH-1G": 1,
        "IOT-CAPTEUR-EAU": 20,
    }
    order = make_order(
        session,
        member=member,
        lines=[(get_product(session, sku), quantity) for sku, quantity in skus.items()],
        order_date=ORDER_DATE,
        status=S.APPROVED,
    )
    prices = {
        line.sku: (line.sale_price, line.setup_fee_price, line.amount) for line in order.lines
    }
    assert prices == {
        "VID-ETUDE": (D("3251.84"), None, D("3251.84")),  # 3 200.00 x 1.0162
        "VID-CAM-DOME": (D("503.02"), None, D("2012.08")),  # 2026 price: 495.00 x 1.0162
        "MC-MESSAGERIE": (D("3.58"), None, D("35.80")),  # 2026 price: 3.40 x 1.0538
        "MC-SITE": (D("20.02"), D("305.60"), D("20.02")),
        "CYB-DIAGNOSTIC": (D("2002.22"), None, D("2002.22")),
        "TEL-FTTH-1G": (D("45.00"), D("150.00"), D("45.00")),  # market price, paid directly
        "IOT-CAPTEUR-EAU": (D("95.00"), None, D("1900.00")),
    }
    suppliers = dict(session.execute(select(Supplier.id, Supplier.code)).tuples().all())
    ordered = {
        suppliers[po.supplier_id]: [
            (line.sku, line.kind.value, line.purchase_account) for line in po.lines
        ]
        for po in order.purchase_orders
    }
    assert ordered == {
        "SURETE-CONSEIL": [("VID-ETUDE", "item", "6041")],
        "VIGIE": [("VID-CAM-DOME", "item", "6071")],
        "HPN": [
            ("MC-MESSAGERIE", "item", "6042"),
            ("MC-SITE", "item", "6042"),
            ("MC-SITE", "setup_fee", "6042"),
        ],
        "CYBERVEILLE": [("CYB-DIAGNOSTIC", "item", "6043")],
    }
