"""Orders for tests, brought to the status asked through the real services.

``make_order(session, member=m, lines=[product, (product, "2.5"), {...}], status="ordered")``
creates the draft, adds the lines, then submits, approves, sends, delivers... as needed,
so an order of any status is one the services could have produced (purchase orders,
subscriptions and events included). The acting user is the system (``actor=None``)
unless told otherwise.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.catalog.models import Product, ProductFamily
from purchasing.catalog.pricing import Billing
from purchasing.members.models import Member
from purchasing.orders import purchase_orders, services
from purchasing.orders.models import Order, OrderStatus, PurchaseOrder, SupplierInvoice
from purchasing.totals import document_totals
from tests.factories.catalog import make_family, make_product
from tests.factories.members import make_member

#: The date of factory orders: inside the factory products' prices (from 2025-01-01).
ORDER_DATE = date(2026, 1, 15)
#: Deliveries and commissionings of factory orders.
DELIVERY_DATE = date(2026, 2, 1)

LineSpec = Product | tuple[Product, Decimal | str | int] | Mapping[str, Any]


def _line_input(spec: LineSpec) -> services.LineInput:
    if isinstance(spec, Product):
        return services.LineInput(sku=spec.sku, quantity=Decimal(1))
    if isinstance(spec, tuple):
        product, quantity = spec
        return services.LineInput(sku=product.sku, quantity=Decimal(str(quantity)))
    values = dict(spec)
    product = values.pop("product")
    quantity = Decimal(str(values.pop("quantity", 1)))
    return services.LineInput(sku=product.sku, quantity=quantity, **values)


def make_order(
    session: Session,
    *,
    member: Member | None = None,
    lines: Iterable[LineSpec] | None = None,
    status: OrderStatus | str = OrderStatus.DRAFT,
    order_date: date = ORDER_DATE,
    delivered_on: date = DELIVERY_DATE,
    actor: Any = None,
    **kw: Any,
) -> Order:
    """An order of ``member`` (a new active one by default) in ``status``.

    ``lines`` take products (quantity 1), ``(product, quantity)`` pairs or dicts with
    ``product``, ``quantity``, ``delivery_site``, ``note``; by default one one-off
    wholesaler product, quantity 2. ``partly_delivered`` delivers half of the first
    one-off line (or commissions the first recurring line of several); ``delivered``
    delivers and commissions everything. Other keywords go to ``create_order``.
    """
    status = OrderStatus(status)
    member = member or make_member(session)
    if lines is None:
        lines = [(make_product(session, billing=Billing.ONE_OFF), 2)]
    order = services.create_order(
        session,
        actor=actor,
        member_id=member.id,
        order_date=order_date,
        lines=[_line_input(spec) for spec in lines],
        **kw,
    )
    if status is OrderStatus.DRAFT:
        return order
    if status is OrderStatus.CANCELLED:
        return services.cancel_order(session, order.id, reason="test cancellation", actor=actor)
    services.submit_order(session, order.id, actor=actor)
    if status is OrderStatus.SUBMITTED:
        return order
    services.approve_order(session, order.id, actor=actor)
    if status is OrderStatus.APPROVED:
        return order
    services.send_order(session, order.id, actor=actor)
    if status is OrderStatus.ORDERED:
        return order
    if status is OrderStatus.PARTLY_DELIVERED:
        _deliver_part(session, order, delivered_on=delivered_on, actor=actor)
        return order
    deliver_everything(session, order, delivered_on=delivered_on, actor=actor)
    if status is OrderStatus.CLOSED:
        services.close_order(session, order.id, actor=actor)
    return order


def deliver_everything(
    session: Session, order: Order, *, delivered_on: date = DELIVERY_DATE, actor: Any = None
) -> Order:
    """Deliver what is left of every one-off line, commission every recurring line."""
    for line in list(order.lines):
        if line.is_recurring:
            if line.commissioned_on is None:
                services.record_commissioning(
                    session, order.id, line.id, commissioned_on=delivered_on, actor=actor
                )
        elif line.quantity_to_deliver > 0:
            services.record_delivery(
                session,
                order.id,
                line.id,
                quantity=line.quantity_to_deliver,
                delivered_on=delivered_on,
                actor=actor,
            )
    return order


def _deliver_part(session: Session, order: Order, *, delivered_on: date, actor: Any) -> None:
    one_off = [line for line in order.lines if not line.is_recurring]
    if one_off and one_off[0].quantity > Decimal("0.001"):
        line = one_off[0]
        services.record_delivery(
            session,
            order.id,
            line.id,
            quantity=(line.quantity / 2).quantize(Decimal("0.001")),
            delivered_on=delivered_on,
            actor=actor,
        )
        return
    if len(order.lines) < 2:
        raise ValueError("a partly delivered order needs a one-off line or two lines")
    line = order.lines[0]
    services.record_commissioning(
        session, order.id, line.id, commissioned_on=delivered_on, actor=actor
    )


def invoice_in_full(
    session: Session,
    purchase_order: PurchaseOrder,
    *,
    number: str = "F-0001",
    invoice_date: date = DELIVERY_DATE,
    period: tuple[date, date] | None = None,
    actor: Any = None,
) -> SupplierInvoice:
    """The supplier invoice billing every line of ``purchase_order`` exactly as ordered.

    Recurring lines are billed for ``period`` (default: the month of ``invoice_date``).
    """
    if period is None:
        days = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
        period = (invoice_date.replace(day=1), invoice_date.replace(day=days))
    lines = [
        purchase_orders.InvoiceLineInput(
            purchase_order_line_id=po_line.id,
            quantity=po_line.quantity,
            unit_cost=po_line.unit_cost,
            amount=po_line.amount,
            vat_rate=po_line.vat_rate,
            period_start=period[0] if po_line.is_recurring else None,
            period_end=period[1] if po_line.is_recurring else None,
        )
        for po_line in purchase_order.lines
    ]
    totals = document_totals((line.amount, line.vat_rate) for line in lines)
    return purchase_orders.record_supplier_invoice(
        session,
        purchase_order_id=purchase_order.id,
        invoice_number=number,
        invoice_date=invoice_date,
        lines=lines,
        total_excl_vat=totals.total_excl_vat,
        total_vat=totals.total_vat,
        total_incl_vat=totals.total_incl_vat,
        actor=actor,
    )


#: The families of the shipped catalogue (catalog/families.yaml), as factories build them.
CATALOG_FAMILIES: dict[str, dict[str, Any]] = {
    "telecom": {"purchase_mode": "intermediary"},
    "video_protection": {
        "margin_rate": Decimal("0.0162"),
        "sales_account": "7061",
        "purchase_account": "6041",
    },
    "mairie_connectee": {
        "margin_rate": Decimal("0.0538"),
        "sales_account": "7062",
        "purchase_account": "6042",
    },
    "iot": {"purchase_mode": "intermediary"},
    "cybersecurity": {
        "margin_rate": Decimal("0.0538"),
        "sales_account": "7063",
        "purchase_account": "6043",
    },
}


def catalog_family(session: Session, code: str) -> ProductFamily:
    """The family ``code`` of the shipped catalogue, created like the catalogue has it."""
    family = session.scalar(select(ProductFamily).where(ProductFamily.code == code))
    if family is None:
        family = make_family(session, code=code, name=code, **CATALOG_FAMILIES[code])
    return family
