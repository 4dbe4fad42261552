"""Purchase orders to suppliers, and the supplier invoices matched against them.

When an order is approved, its wholesaler lines become one purchase order per supplier,
at the supplier costs frozen on the lines and numbered in their own series ("BCF"). The
order's services call :func:`issue_purchase_orders`, :func:`send_purchase_orders` and
:func:`cancel_purchase_orders` inside their own transaction.

A supplier invoice is recorded against a sent purchase order and matched line by line
(:func:`line_mismatches`): unit cost, amount, VAT rate, and quantity — cumulated over all
the supplier's invoices for a one-off item (never more than ordered), per period for a
recurring item (never more than in service, never the same days twice). An invoice that
agrees is **matched** and enters the books at once; one that disagrees is flagged
**mismatch**, with its reasons stored per line, and stays out of the books until the
purchasing staff accept it (with a reason) or reject it.

An invoice entering the books publishes ``purchase.recorded`` (see
:func:`purchase_recorded_payload`): the ledger posts it from that event alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor
from purchasing.catalog.pricing import PurchaseMode
from purchasing.db import utcnow
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.events import publish
from purchasing.fields import today_in_paris
from purchasing.money import ZERO, line_amount
from purchasing.numbering import format_number, next_number
from purchasing.orders.models import (
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SupplierInvoice,
    SupplierInvoiceLine,
    SupplierInvoiceStatus,
    plain_quantity,
)
from purchasing.orders.roles import BUYERS, STAFF, actor_id, require_role
from purchasing.totals import document_totals
from purchasing.unit_of_work import Page, paginate, transaction

__all__ = [
    "PURCHASE_ORDER_SERIES",
    "InvoiceLineInput",
    "PurchaseOrderFilters",
    "SupplierInvoiceFilters",
    "accept_supplier_invoice",
    "cancel_purchase_orders",
    "get_purchase_order",
    "get_supplier_invoice",
    "issue_purchase_orders",
    "line_mismatches",
    "list_purchase_orders",
    "list_supplier_invoices",
    "purchase_recorded_payload",
    "record_supplier_invoice",
    "reject_supplier_invoice",
    "send_purchase_orders",
]

#: Numbering series of purchase orders: "BCF-2026-000007".
PURCHASE_ORDER_SERIES = "BCF"


@dataclass(frozen=True)
class PurchaseOrderFilters:
    status: PurchaseOrderStatus | None = None
    supplier_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class SupplierInvoiceFilters:
    status: SupplierInvoiceStatus | None = None
    supplier_id: int | None = None
    purchase_order_id: int | None = None


@dataclass(frozen=True)
class InvoiceLineInput:
    """A line of a supplier invoice as printed: which purchase order line it bills."""

    purchase_order_line_id: int
    quantity: Decimal
    unit_cost: Decimal
    amount: Decimal
    vat_rate: Decimal
    #: The days a recurring item is billed for, both included; None for a one-off item.
    period_start: date | None = None
    period_end: date | None = None


# --- Matching, as a pure rule -------------------------------------------------------------


def line_mismatches(
    *,
    ordered_quantity: Decimal,
    ordered_unit_cost: Decimal,
    ordered_vat_rate: Decimal,
    quantity: Decimal,
    unit_cost: Decimal,
    amount: Decimal,
    vat_rate: Decimal,
    invoiced_before: Decimal = ZERO,
    recurring: bool = False,
) -> list[str]:
    """Why an invoice line disagrees with what was ordered; empty when it matches.

    ``invoiced_before`` is what the supplier's earlier invoices (not rejected) already
    billed of a one-off item; a recurring item is billed per period, so its quantity is
    compared with the quantity in service (``ordered_quantity``) for that period alone.
    """
    reasons = []
    if recurring:
        if quantity > ordered_quantity:
            reasons.append(
                f"quantity {plain_quantity(quantity)} is more than "
                f"the {plain_quantity(ordered_quantity)} in service"
            )
    elif invoiced_before + quantity > ordered_quantity:
        earlier = (
            f" ({plain_quantity(invoiced_before)} on earlier invoices)" if invoiced_before else ""
        )
        reasons.append(
            f"over-invoiced: {plain_quantity(invoiced_before + quantity)} invoiced in all{earlier} "
            f"for {plain_quantity(ordered_quantity)} ordered"
        )
    if unit_cost != ordered_unit_cost:
        reasons.append(f"unit cost {unit_cost} differs from the ordered {ordered_unit_cost}")
    expected = line_amount(ordered_unit_cost, quantity)
    if amount != expected:
        reasons.append(
            f"amount {amount} differs from the expected {expected} "
            f"({plain_quantity(quantity)} x {ordered_unit_cost})"
        )
    if vat_rate != ordered_vat_rate:
        reasons.append(f"VAT rate {vat_rate} differs from the ordered {ordered_vat_rate}")
    return reasons


# --- Purchase orders, within an order's transitions ---------------------------------------


def issue_purchase_orders(
    session: Session, order: Order, *, on: date, actor: Actor | None
) -> list[PurchaseOrder]:
    """One purchase order per supplier of the order's wholesaler lines, numbered.

    Called by the approval, inside its transaction. A recurring line with a set-up fee
    orders the fee as a line of its own. Suppliers are taken in the order of their first
    line, so the numbering follows the order as the member wrote it.
    """
    by_supplier: dict[int, list[OrderLine]] = defaultdict(list)
    for line in order.lines:
        if line.purchase_mode is PurchaseMode.WHOLESALER:
            by_supplier[line.supplier_id].append(line)
    issued = []
    for supplier_id, lines in by_supplier.items():
        number = next_number(session, PURCHASE_ORDER_SERIES, on.year)
        purchase_order = PurchaseOrder(
            number=format_number(PURCHASE_ORDER_SERIES, on.year, number),
            order=order,
            supplier_id=supplier_id,
            status=PurchaseOrderStatus.ISSUED,
            issued_on=on,
        )
        for line in lines:
            purchase_order.lines.append(PurchaseOrderLine.for_item(line))
            if line.setup_fee_cost is not None:
                purchase_order.lines.append(PurchaseOrderLine.for_setup_fee(line))
        session.add(purchase_order)
        issued.append(purchase_order)
    session.flush()
    for purchase_order in issued:
        _record(
            session,
            actor,
            "purchase_order.issued",
            purchase_order,
            after={
                **snapshot(purchase_order),
                "lines": [snapshot(line) for line in purchase_order.lines],
            },
        )
    return issued


def send_purchase_orders(
    session: Session, order: Order, *, at: datetime, actor: Actor | None
) -> None:
    """Mark the order's purchase orders sent, inside the order's transaction."""
    for purchase_order in order.purchase_orders:
        before = snapshot(purchase_order)
        purchase_order.mark_sent(by=actor_id(actor), at=at)
        _record(
            session,
            actor,
            "purchase_order.sent",
            purchase_order,
            before=before,
            after=snapshot(purchase_order),
        )


def cancel_purchase_orders(
    session: Session, order: Order, *, at: datetime, actor: Actor | None
) -> None:
    """Cancel the order's (unsent) purchase orders, inside the order's transaction."""
    for purchase_order in order.purchase_orders:
        before = snapshot(purchase_order)
        purchase_order.cancel(by=actor_id(actor), at=at)
        _record(
            session,
            actor,
            "purchase_order.cancelled",
            purchase_order,
            before=before,
            after=snapshot(purchase_order),
        )


def list_purchase_orders(
    session: Session,
    *,
    actor: Actor | None,
    filters: PurchaseOrderFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[PurchaseOrder]:
    """Purchase orders, most recent first (staff only)."""
    require_role(actor, STAFF, "read purchase orders")
    filters = filters or PurchaseOrderFilters()
    query = select(PurchaseOrder)
    if filters.status is not None:
        query = query.where(PurchaseOrder.status == filters.status)
    if filters.supplier_id is not None:
        query = query.where(PurchaseOrder.supplier_id == filters.supplier_id)
    if filters.order_id is not None:
        query = query.where(PurchaseOrder.order_id == filters.order_id)
    query = query.options(
        selectinload(PurchaseOrder.lines)
        .selectinload(PurchaseOrderLine.invoice_lines)
        .selectinload(SupplierInvoiceLine.invoice),
        selectinload(PurchaseOrder.order),
    ).order_by(PurchaseOrder.id.desc())
    return paginate(session, query, page=page, per_page=per_page)


def get_purchase_order(
    session: Session, purchase_order_id: int, *, actor: Actor | None
) -> PurchaseOrder:
    require_role(actor, STAFF, "read purchase orders")
    purchase_order = session.get(PurchaseOrder, purchase_order_id)
    if purchase_order is None:
        raise NotFound(f"no purchase order with id {purchase_order_id}", field="purchase_order_id")
    return purchase_order


# --- Supplier invoices ------------------------------------------------------------------


def record_supplier_invoice(
    session: Session,
    *,
    purchase_order_id: int,
    invoice_number: str,
    invoice_date: date,
    lines: Sequence[InvoiceLineInput],
    total_excl_vat: Decimal,
    total_vat: Decimal,
    total_incl_vat: Decimal,
    actor: Actor | None,
) -> SupplierInvoice:
    """Record a supplier's invoice against a sent purchase order, and match it.

    The invoice must add up (its lines to its total before VAT, VAT per rate on the lines,
    total including VAT): one that does not is refused, as the supplier must correct it.
    Disagreements with the purchase order are not refused: they are recorded, flagged
    (status ``mismatch``) and kept out of the books until someone decides.
    """
    require_role(actor, BUYERS, "record a supplier invoice")
    invoice_number = (invoice_number or "").strip()
    with transaction(session):
        # The lock serialises invoices of one purchase order, so that two recorded at once
        # cannot both find the quantity not yet invoiced.
        purchase_order = session.scalar(
            select(PurchaseOrder)
            .where(PurchaseOrder.id == purchase_order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if purchase_order is None:
            raise ValidationFailed(
                f"no purchase order with id {purchase_order_id}", field="purchase_order_id"
            )
        purchase_order.ensure_invoiceable()
        _check_invoice_number_is_free(session, purchase_order.supplier_id, invoice_number)
        if invoice_date > today_in_paris():
            raise ValidationFailed("may not be in the future", field="invoice_date")
        po_lines = _invoiced_po_lines(purchase_order, lines)
        _check_invoice_adds_up(lines, total_excl_vat, total_vat, total_incl_vat)

        # Matched against what was invoiced before this invoice, so computed first.
        mismatches = [
            _mismatches(po_line, data) for data, po_line in zip(lines, po_lines, strict=True)
        ]
        invoice = SupplierInvoice(
            supplier_id=purchase_order.supplier_id,
            purchase_order=purchase_order,
            invoice_number=invoice_number,
            invoice_date=invoice_date,
            total_excl_vat=total_excl_vat,
            total_vat=total_vat,
            total_incl_vat=total_incl_vat,
            status=(
                SupplierInvoiceStatus.MISMATCH if any(mismatches) else SupplierInvoiceStatus.MATCHED
            ),
            recorded_by_id=actor_id(actor),
            lines=[
                SupplierInvoiceLine(
                    purchase_order_line=po_line,
                    quantity=data.quantity,
                    unit_cost=data.unit_cost,
                    amount=data.amount,
                    vat_rate=data.vat_rate,
                    period_start=data.period_start,
                    period_end=data.period_end,
                    mismatches=reasons,
                )
                for data, po_line, reasons in zip(lines, po_lines, mismatches, strict=True)
            ],
        )
        session.add(invoice)
        try:
            session.flush()
        except IntegrityError as exc:
            if "invoice_number" not in str(exc.orig):
                raise
            raise Conflict(
                "this supplier invoice was recorded meanwhile", field="invoice_number"
            ) from None
        record_change(
            session,
            actor=actor,
            action="supplier_invoice.recorded",
            entity="supplier_invoice",
            entity_id=invoice.id,
            after={**snapshot(invoice), "lines": [snapshot(line) for line in invoice.lines]},
        )
        _follow_invoicing(session, purchase_order, actor=actor)
        if invoice.is_booked:
            _publish_purchase(session, invoice)
    return invoice


def accept_supplier_invoice(
    session: Session, invoice_id: int, *, reason: str, actor: Actor | None
) -> SupplierInvoice:
    """Accept a flagged supplier invoice as it is, saying why: it enters the books."""
    require_role(actor, BUYERS, "accept a supplier invoice")
    with transaction(session):
        invoice = _lock_invoice(session, invoice_id)
        before = snapshot(invoice)
        invoice.decide(
            SupplierInvoiceStatus.ACCEPTED, reason=reason, by=actor_id(actor), at=utcnow()
        )
        record_change(
            session,
            actor=actor,
            action="supplier_invoice.accepted",
            entity="supplier_invoice",
            entity_id=invoice.id,
            before=before,
            after=snapshot(invoice),
        )
        _publish_purchase(session, invoice)
    return invoice


def reject_supplier_invoice(
    session: Session, invoice_id: int, *, reason: str, actor: Actor | None
) -> SupplierInvoice:
    """Reject a flagged supplier invoice, saying why: it never enters the books, and what
    it billed counts as not invoiced again."""
    require_role(actor, BUYERS, "reject a supplier invoice")
    with transaction(session):
        invoice = _lock_invoice(session, invoice_id)
        before = snapshot(invoice)
        invoice.decide(
            SupplierInvoiceStatus.REJECTED, reason=reason, by=actor_id(actor), at=utcnow()
        )
        record_change(
            session,
            actor=actor,
            action="supplier_invoice.rejected",
            entity="supplier_invoice",
            entity_id=invoice.id,
            before=before,
            after=snapshot(invoice),
        )
        _follow_invoicing(session, invoice.purchase_order, actor=actor)
    return invoice


def list_supplier_invoices(
    session: Session,
    *,
    actor: Actor | None,
    filters: SupplierInvoiceFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[SupplierInvoice]:
    """Supplier invoices, most recently recorded first (staff only)."""
    require_role(actor, STAFF, "read supplier invoices")
    filters = filters or SupplierInvoiceFilters()
    query = select(SupplierInvoice)
    if filters.status is not None:
        query = query.where(SupplierInvoice.status == filters.status)
    if filters.supplier_id is not None:
        query = query.where(SupplierInvoice.supplier_id == filters.supplier_id)
    if filters.purchase_order_id is not None:
        query = query.where(SupplierInvoice.purchase_order_id == filters.purchase_order_id)
    query = query.options(
        selectinload(SupplierInvoice.lines), selectinload(SupplierInvoice.purchase_order)
    ).order_by(SupplierInvoice.id.desc())
    return paginate(session, query, page=page, per_page=per_page)


def get_supplier_invoice(
    session: Session, invoice_id: int, *, actor: Actor | None
) -> SupplierInvoice:
    require_role(actor, STAFF, "read supplier invoices")
    invoice = session.get(SupplierInvoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no supplier invoice with id {invoice_id}", field="invoice_id")
    return invoice


def purchase_recorded_payload(invoice: SupplierInvoice) -> dict[str, Any]:
    """The ``purchase.recorded`` event: everything the ledger posts a purchase from.

    Debit each purchase account with its amount before VAT, debit deductible VAT with
    ``total_vat`` (``vat_by_rate`` breaks it down), credit the supplier with
    ``total_incl_vat``; the parts add up to the total by construction. Amounts and rates
    are strings ("1234.56", "0.2000"), dates ISO.
    """
    by_account: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in invoice.lines:
        by_account[line.purchase_order_line.purchase_account] += line.amount
    totals = document_totals((line.amount, line.vat_rate) for line in invoice.lines)
    purchase_order = invoice.purchase_order
    return {
        "supplier_invoice_id": invoice.id,
        "supplier_id": invoice.supplier_id,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.invoice_date.isoformat(),
        "purchase_order_id": purchase_order.id,
        "purchase_order_number": purchase_order.number,
        "order_id": purchase_order.order_id,
        "member_id": purchase_order.order.member_id,
        "lines_by_account": [
            {"purchase_account": account, "amount_excl_vat": str(amount)}
            for account, amount in sorted(by_account.items())
        ],
        "vat_by_rate": [
            {"rate": str(part.rate), "base": str(part.base), "vat": str(part.vat)}
            for part in totals.vat
        ],
        "total_excl_vat": str(invoice.total_excl_vat),
        "total_vat": str(invoice.total_vat),
        "total_incl_vat": str(invoice.total_incl_vat),
        "mismatch_accepted": invoice.status is SupplierInvoiceStatus.ACCEPTED,
    }


def _publish_purchase(session: Session, invoice: SupplierInvoice) -> None:
    publish(
        session,
        "purchase.recorded",
        entity="supplier_invoice",
        entity_id=invoice.id,
        payload=purchase_recorded_payload(invoice),
    )


def _lock_invoice(session: Session, invoice_id: int) -> SupplierInvoice:
    """The invoice, locked after its purchase order (recording locks that first too)."""
    purchase_order_id = session.scalar(
        select(SupplierInvoice.purchase_order_id).where(SupplierInvoice.id == invoice_id)
    )
    if purchase_order_id is None:
        raise NotFound(f"no supplier invoice with id {invoice_id}", field="invoice_id")
    for entity, entity_id in ((PurchaseOrder, purchase_order_id), (SupplierInvoice, invoice_id)):
        session.scalar(
            select(entity)
            .where(entity.id == entity_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return session.get(SupplierInvoice, invoice_id)


def _check_invoice_number_is_free(session: Session, supplier_id: int, number: str) -> None:
    if not number:
        raise ValidationFailed("the supplier's invoice number is required", field="invoice_number")
    existing = session.scalar(
        select(SupplierInvoice.id).where(
            SupplierInvoice.supplier_id == supplier_id, SupplierInvoice.invoice_number == number
        )
    )
    if existing is not None:
        raise Conflict(
            f"invoice {number} of this supplier is already recorded (id {existing})",
            field="invoice_number",
        )


def _invoiced_po_lines(
    purchase_order: PurchaseOrder, lines: Sequence[InvoiceLineInput]
) -> list[PurchaseOrderLine]:
    """The purchase order line each invoice line bills; refuses what cannot be matched."""
    if not lines:
        raise ValidationFailed("an invoice needs at least one line", field="lines")
    by_id = {po_line.id: po_line for po_line in purchase_order.lines}
    problems: dict[str, list[str]] = {}
    seen: set[int] = set()
    found = []
    for index, data in enumerate(lines):
        where = f"lines[{index}]"
        po_line = by_id.get(data.purchase_order_line_id)
        if po_line is None:
            problems[f"{where}.purchase_order_line_id"] = [
                f"not a line of purchase order {purchase_order.number}"
            ]
            continue
        if po_line.id in seen:
            problems[f"{where}.purchase_order_line_id"] = ["billed twice on this invoice"]
        seen.add(po_line.id)
        has_period = data.period_start is not None or data.period_end is not None
        if po_line.is_recurring:
            for name in ("period_start", "period_end"):
                if getattr(data, name) is None:
                    problems[f"{where}.{name}"] = [
                        f"required: {po_line.sku} is billed {po_line.billing.value}"
                    ]
            if data.period_start and data.period_end and data.period_end < data.period_start:
                problems[f"{where}.period_end"] = ["before period_start"]
        elif has_period:
            problems[f"{where}.period_start"] = ["a one-off item is not billed per period"]
        found.append(po_line)
    if problems:
        raise ValidationFailed("the invoice lines cannot be matched", errors=problems)
    return found


def _check_invoice_adds_up(
    lines: Sequence[InvoiceLineInput],
    total_excl_vat: Decimal,
    total_vat: Decimal,
    total_incl_vat: Decimal,
) -> None:
    totals = document_totals((line.amount, line.vat_rate) for line in lines)
    problems = {}
    if total_excl_vat != totals.total_excl_vat:
        problems["total_excl_vat"] = [f"the lines add up to {totals.total_excl_vat}"]
    if total_vat != totals.total_vat:
        problems["total_vat"] = [
            f"VAT per rate on the lines comes to {totals.total_vat}; "
            "ask the supplier for a corrected invoice"
        ]
    if total_incl_vat != total_excl_vat + total_vat:
        problems["total_incl_vat"] = [
            f"total_excl_vat + total_vat comes to {total_excl_vat + total_vat}"
        ]
    if problems:
        raise ValidationFailed("the invoice does not add up", errors=problems)


def _mismatches(po_line: PurchaseOrderLine, data: InvoiceLineInput) -> list[str]:
    """Why an invoice line disagrees with its purchase order line (see module doc)."""
    terms = {
        "ordered_unit_cost": po_line.unit_cost,
        "ordered_vat_rate": po_line.vat_rate,
        "quantity": data.quantity,
        "unit_cost": data.unit_cost,
        "amount": data.amount,
        "vat_rate": data.vat_rate,
    }
    if not po_line.is_recurring:
        return line_mismatches(
            ordered_quantity=po_line.quantity,
            invoiced_before=po_line.invoiced_quantity,
            **terms,
        )
    first, last = data.period_start, data.period_end
    reasons = []
    in_service = po_line.quantity
    subscription = po_line.order_line.subscription
    if subscription is None:
        reasons.append("no commissioning recorded for this service")
    else:
        if first < subscription.start_date or (
            subscription.end_date is not None and last > subscription.end_date
        ):
            ends = subscription.end_date.isoformat() if subscription.end_date else "open-ended"
            reasons.append(
                f"period outside the subscription ({subscription.start_date.isoformat()} to {ends})"
            )
        segments = subscription.quantity_segments(first, last)
        if segments:
            in_service = max(segment.quantity for segment in segments)
    for earlier in po_line.counted_invoice_lines:
        if earlier.overlaps(first, last):
            reasons.append(
                f"period already invoiced on supplier invoice {earlier.invoice.invoice_number}"
            )
    return reasons + line_mismatches(ordered_quantity=in_service, recurring=True, **terms)


def _follow_invoicing(
    session: Session, purchase_order: PurchaseOrder, *, actor: Actor | None
) -> None:
    before = snapshot(purchase_order)
    if purchase_order.follow_invoicing():
        _record(
            session,
            actor,
            "purchase_order.invoicing_updated",
            purchase_order,
            before=before,
            after=snapshot(purchase_order),
        )


def _record(
    session: Session,
    actor: Actor | None,
    action: str,
    purchase_order: PurchaseOrder,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity="purchase_order",
        entity_id=purchase_order.id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
