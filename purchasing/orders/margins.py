"""Margin truth: the margin each wholesaler line actually earned, from its supplier invoices.

The catalogue prices a resale at ``supplier cost x (1 + family margin rate)``, the rate the
syndicat deliberated. What the centre earns is the sale less what the supplier actually
invoiced, which may differ (a price revision the supplier applied, an accepted mismatch).
This report compares the two, line by line, for the wholesaler order lines with supplier
invoices in the books (matched, or mismatches accepted; pending and rejected ones are left
out, as they are out of the books).

For each order line, over the invoice lines of its purchase order lines (the item, and its
set-up fee when it has one):

- ``sale_amount``: what the member is charged for the quantities invoiced, at the line's
  frozen prices (sale price, set-up fee price), each invoice line's amount rounded once;
- ``invoiced_cost``: the sum of the supplier's invoiced amounts;
- ``margin = sale_amount - invoiced_cost``; ``real_rate = margin / invoiced_cost`` (the
  family rate's own definition), to four decimals;
- ``deliberated_rate``: the family margin rate frozen on the line's price version, i.e. the
  rate in force when those prices were recorded, cited with ``rate_deliberation``, the
  deliberation that set that rate (frozen on the version with it); ``price_deliberation``
  is the one that set the line's prices, usually another act.

**Tolerance.** Deriving a sale price rounds it to the cent, so even a line invoiced
exactly at its catalogue cost seldom earns the deliberated rate to the fourth decimal (3.40
at 5.38 % sells 3.58: 5.29 %). A line is listed when its margin differs from the
deliberated margin on its invoiced cost (``invoiced_cost x deliberated_rate``) by more than
that rounding can explain: half a cent per unit invoiced, plus one cent per invoice line
(the rounding of its amounts). Anything beyond is a real difference: a supplier price that
is not the catalogue's, or an explicit sale price off the deliberated rate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import extract, select
from sqlalchemy.orm import Session, joinedload

from purchasing.auth.roles import Actor
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.models import PriceVersion
from purchasing.catalog.pricing import PurchaseMode
from purchasing.money import ZERO, line_amount, round_cents, round_rate
from purchasing.orders.models import (
    Order,
    OrderLine,
    PurchaseOrderLine,
    PurchaseOrderLineKind,
    SupplierInvoice,
    SupplierInvoiceLine,
    SupplierInvoiceStatus,
)
from purchasing.orders.roles import STAFF, require_role

__all__ = ["LineMargin", "MarginTruthReport", "margin_truth"]

#: What the rounding of one unit's price to the cent can move a margin by.
HALF_CENT_PER_UNIT = Decimal("0.005")
#: What the rounding of one invoice line's amounts can move a margin by.
CENT_PER_INVOICE_LINE = Decimal("0.01")
_BOOKED = (SupplierInvoiceStatus.MATCHED, SupplierInvoiceStatus.ACCEPTED)


@dataclass(frozen=True)
class LineMargin:
    """The margin one wholesaler order line earned on what its supplier invoiced."""

    order_id: int
    order_reference: str
    member_id: int
    order_line_id: int
    sku: str
    designation: str
    family_code: str
    #: Of the item (set-up fees aside), over the invoices counted.
    invoiced_quantity: Decimal
    invoice_lines: int
    sale_amount: Decimal
    #: What the invoiced quantities cost at the catalogue cost frozen on the line.
    catalogue_cost: Decimal
    invoiced_cost: Decimal
    deliberated_rate: Decimal
    #: The deliberation that set ``deliberated_rate``: the family's margin deliberation
    #: kept on the price version. None only for versions whose family cited none.
    rate_deliberation: Deliberation | None
    #: The deliberation that set the line's prices (supplier cost, sale price).
    price_deliberation: Deliberation | None
    tolerance: Decimal

    @property
    def margin(self) -> Decimal:
        return self.sale_amount - self.invoiced_cost

    @property
    def real_rate(self) -> Decimal | None:
        """Margin over invoiced cost; None when the supplier invoiced nothing to pay."""
        return round_rate(self.margin / self.invoiced_cost) if self.invoiced_cost else None

    @property
    def rate_difference(self) -> Decimal | None:
        return None if self.real_rate is None else self.real_rate - self.deliberated_rate

    @property
    def deliberated_margin(self) -> Decimal:
        """The margin the deliberated rate gives on the invoiced cost, to the cent."""
        return round_cents(self.invoiced_cost * self.deliberated_rate)

    @property
    def margin_gap(self) -> Decimal:
        """Margin earned less the deliberated margin: negative when the centre earns less."""
        return self.margin - self.deliberated_margin

    @property
    def differs(self) -> bool:
        return abs(self.margin_gap) > self.tolerance


@dataclass(frozen=True)
class MarginTruthReport:
    year: int | None
    family: str | None
    #: Wholesaler lines with booked supplier invoices, examined.
    lines_examined: int
    #: Those whose margin differs from the deliberated one beyond the tolerance.
    lines: tuple[LineMargin, ...]

    @property
    def margin_gap(self) -> Decimal:
        return sum((line.margin_gap for line in self.lines), ZERO)


def margin_truth(
    session: Session,
    *,
    actor: Actor | None,
    year: int | None = None,
    family: str | None = None,
) -> MarginTruthReport:
    """The wholesaler lines whose real margin differs from the deliberated one (see the
    module doc), biggest shortfall first; staff only.

    ``year`` keeps the supplier invoices dated that year; ``family`` one family's lines.
    """
    require_role(actor, STAFF, "read the margin report")
    query = (
        select(SupplierInvoiceLine, PurchaseOrderLine, OrderLine, Order, PriceVersion)
        .join(SupplierInvoice, SupplierInvoiceLine.supplier_invoice_id == SupplierInvoice.id)
        .join(PurchaseOrderLine, SupplierInvoiceLine.purchase_order_line_id == PurchaseOrderLine.id)
        .join(OrderLine, PurchaseOrderLine.order_line_id == OrderLine.id)
        .join(Order, OrderLine.order_id == Order.id)
        .join(PriceVersion, OrderLine.price_version_id == PriceVersion.id)
        .where(
            SupplierInvoice.status.in_(_BOOKED),
            OrderLine.purchase_mode == PurchaseMode.WHOLESALER,
        )
        .order_by(OrderLine.id, SupplierInvoiceLine.id)
    )
    if year is not None:
        query = query.where(extract("year", SupplierInvoice.invoice_date) == year)
    if family is not None:
        query = query.where(OrderLine.family_code == family)
    rows = session.execute(query.options(joinedload(SupplierInvoiceLine.invoice))).tuples()

    grouped: dict[int, list[tuple[SupplierInvoiceLine, PurchaseOrderLine]]] = defaultdict(list)
    context: dict[int, tuple[OrderLine, Order, PriceVersion]] = {}
    for invoice_line, po_line, line, order, version in rows:
        grouped[line.id].append((invoice_line, po_line))
        context[line.id] = (line, order, version)

    examined = [_line_margin(*context[line_id], grouped[line_id]) for line_id in sorted(grouped)]
    listed = sorted(
        (m for m in examined if m.differs), key=lambda m: (m.margin_gap, m.order_line_id)
    )
    return MarginTruthReport(
        year=year, family=family, lines_examined=len(examined), lines=tuple(listed)
    )


def _line_margin(
    line: OrderLine,
    order: Order,
    version: PriceVersion,
    invoiced: list[tuple[SupplierInvoiceLine, PurchaseOrderLine]],
) -> LineMargin:
    sale = catalogue = cost = quantity = units = ZERO
    for invoice_line, po_line in invoiced:
        if po_line.kind is PurchaseOrderLineKind.SETUP_FEE:
            price, unit_cost = line.setup_fee_price, line.setup_fee_cost
        else:
            price, unit_cost = line.sale_price, line.supplier_cost
            quantity += invoice_line.quantity
        sale += line_amount(price, invoice_line.quantity)
        catalogue += line_amount(unit_cost, invoice_line.quantity)
        cost += invoice_line.amount
        units += invoice_line.quantity
    tolerance = round_cents(HALF_CENT_PER_UNIT * units + CENT_PER_INVOICE_LINE * len(invoiced))
    return LineMargin(
        order_id=order.id,
        order_reference=order.reference,
        member_id=order.member_id,
        order_line_id=line.id,
        sku=line.sku,
        designation=line.designation,
        family_code=line.family_code,
        invoiced_quantity=quantity,
        invoice_lines=len(invoiced),
        sale_amount=sale,
        catalogue_cost=catalogue,
        invoiced_cost=cost,
        deliberated_rate=version.margin_rate,
        rate_deliberation=version.margin_deliberation,
        price_deliberation=line.deliberation or version.deliberation,
        tolerance=tolerance,
    )
