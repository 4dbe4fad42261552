"""Orders of members, purchase orders to suppliers, supplier invoices and subscriptions.

An **order** (bon de commande) is placed by one member. Each line keeps the prices of the
catalogue version in force on the order date, copied when the line is added, so that a
later price change never reprices an order. The order goes through the statuses of
:data:`ORDER_TRANSITIONS`; every move is checked against that table, in one place.

Lines of a *wholesaler* family are bought by the centre: on approval they become one
**purchase order** per supplier (bon de commande fournisseur), and the supplier's
**invoices** are matched against it. Lines of an *intermediary* family are contracted and
paid directly by the member under the centre's framework market: the centre follows them
(delivery, commissioning) but they never reach its books.

A delivered one-off line is billed once; a commissioned recurring line of a wholesaler
family becomes a **subscription** billed per period from its start date, with a dated
quantity history so that a period can be prorated exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from purchasing.catalog.deliberations import REFERENCE_LENGTH as DELIBERATION_REFERENCE_LENGTH
from purchasing.catalog.deliberations import Deliberation
from purchasing.catalog.models import MarketLot, Product
from purchasing.catalog.orderable import OrderableProduct
from purchasing.catalog.pricing import Billing, PurchaseMode
from purchasing.db import Base, Rate, enum_column, utcnow
from purchasing.errors import Conflict, InvalidTransition, ValidationFailed
from purchasing.members.models import Member
from purchasing.money import ZERO, line_amount, to_decimal

__all__ = [
    "DELIVERABLE_STATUSES",
    "ORDER_TRANSITIONS",
    "PURCHASE_ORDER_TRANSITIONS",
    "QUOTABLE_STATUSES",
    "SUPPLIER_INVOICE_TRANSITIONS",
    "Delivery",
    "MarketLotCommitment",
    "Order",
    "OrderLine",
    "OrderNotEditable",
    "OrderStatus",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderLineKind",
    "PurchaseOrderStatus",
    "QuantitySegment",
    "QuantityType",
    "Subscription",
    "SubscriptionQuantity",
    "SupplierInvoice",
    "SupplierInvoiceLine",
    "SupplierInvoiceStatus",
    "check_order_transition",
    "plain_quantity",
    "quantity_segments",
    "setup_fee_designation",
]

# Column sizes, shared with the input schemas so that input is refused before the database.
REFERENCE_LENGTH = 20
#: Chorus Pro takes a "numéro d'engagement" (the buyer's order number) of up to 50 characters.
ENGAGEMENT_NUMBER_LENGTH = 50
NOTE_LENGTH = 1000
LINE_NOTE_LENGTH = 500
DELIVERY_SITE_LENGTH = 200
REASON_LENGTH = 500
SUPPLIER_INVOICE_NUMBER_LENGTH = 50

#: Quantities keep three decimals (days, metres): "1.5" jours d'audit.
QUANTITY_QUANTUM = Decimal("0.001")
#: Nothing delivered yet, with the column's three decimals (as an audit record shows it).
NO_QUANTITY = Decimal("0.000")
#: Where a line just priced keeps its lot's reference (see ``OrderLine.market_reference``).
_PRICED_LOT = "_priced_lot_reference"
#: The largest amount a ``Money`` column (Numeric(14, 2)) holds.
MAX_AMOUNT = Decimal("999999999999.99")


class QuantityType(TypeDecorator):
    """A quantity: ``Numeric(12, 3)``, read back as an exact Decimal on both databases.

    A value with more than three decimals is refused, never rounded: a quantity is
    counted, and a silently rounded count would misstate what was ordered or delivered.
    """

    impl = Numeric(12, 3, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        number = to_decimal(value)
        if number.quantize(QUANTITY_QUANTUM) != number:
            raise ValueError(f"quantity {number} has more than three decimals")
        return number.quantize(QUANTITY_QUANTUM)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        # SQLite hands back a float: quantise it back to the three decimals stored.
        return None if value is None else to_decimal(str(value)).quantize(QUANTITY_QUANTUM)


def setup_fee_designation(designation: str) -> str:
    """How documents name the set-up fee of an item, in French."""
    return f"Frais de mise en service – {designation}"  # noqa: RUF001 - French en dash


def plain_quantity(quantity: Decimal) -> str:
    """A quantity as a person writes it in a message: 2, 1.5 (never 2.000 nor 1E+1)."""
    return format(quantity.normalize(), "f")


def _check_quantity(key: str, value: Any) -> Decimal:
    number = to_decimal(value)
    if number <= 0:
        raise ValidationFailed("must be more than 0", field=key)
    if number.quantize(QUANTITY_QUANTUM) != number:
        raise ValidationFailed("at most 3 decimal places", field=key)
    return number.quantize(QUANTITY_QUANTUM)  # as the column gives it back


# --- Order lifecycle --------------------------------------------------------------------


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    #: Sent to the suppliers: purchase orders sent, intermediary lines passed on.
    ORDERED = "ordered"
    PARTLY_DELIVERED = "partly_delivered"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


_S = OrderStatus
#: Where each status may go next; nothing else is allowed. Delivery statuses are reached
#: automatically as deliveries and commissionings are recorded. An order can be cancelled
#: until it is sent to the suppliers, never after.
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    _S.DRAFT: frozenset({_S.SUBMITTED, _S.CANCELLED}),
    _S.SUBMITTED: frozenset({_S.APPROVED, _S.DRAFT, _S.CANCELLED}),
    _S.APPROVED: frozenset({_S.ORDERED, _S.CANCELLED}),
    _S.ORDERED: frozenset({_S.PARTLY_DELIVERED, _S.DELIVERED}),
    _S.PARTLY_DELIVERED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
    _S.CANCELLED: frozenset(),
}
#: Statuses in which a quote (devis) can be printed: the order is not yet accepted.
QUOTABLE_STATUSES = frozenset({_S.DRAFT, _S.SUBMITTED})
#: Statuses in which deliveries and commissionings are recorded.
DELIVERABLE_STATUSES = frozenset({_S.ORDERED, _S.PARTLY_DELIVERED})


def check_order_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise ``InvalidTransition`` unless :data:`ORDER_TRANSITIONS` allows the move."""
    if target not in ORDER_TRANSITIONS[current]:
        raise InvalidTransition("order", current.value, target.value)


class OrderNotEditable(Conflict):
    """Lines and terms of an order change only while it is a draft."""

    def __init__(self, reference: str, status: OrderStatus) -> None:
        super().__init__(
            f"order {reference} is {status.value}: it changes only while a draft", field="status"
        )


class Order(Base):
    """A member's order (bon de commande), from draft to closed or cancelled.

    Each transition stamps when it happened and who made it; the audit trail keeps the
    full history (an order returned for changes and submitted again keeps its last
    submission here).
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "(status = 'cancelled') = (cancellation_reason IS NOT NULL)",
            name="cancelled_has_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "CMD-2026-000042": series CMD, year of the order date, numbered at creation.
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    #: The date of the prices kept by the lines (today in Paris unless staff date it).
    order_date: Mapped[date]
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, length=32, name="order_status", check=True),
        default=OrderStatus.DRAFT,
        index=True,
    )
    #: The member's own order or engagement number ("numéro d'engagement"), which Chorus
    #: Pro requires on the centre's invoices for members that say so.
    engagement_number: Mapped[str | None] = mapped_column(String(ENGAGEMENT_NUMBER_LENGTH))
    note: Mapped[str] = mapped_column(String(NOTE_LENGTH), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Last time the centre sent a submitted order back to the member for changes.
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the order went to the suppliers (status ordered).
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the last line was delivered or commissioned.
    delivered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancellation_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))

    member: Mapped[Member] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )
    purchase_orders: Mapped[list[PurchaseOrder]] = relationship(
        back_populates="order", order_by="PurchaseOrder.id"
    )

    @validates("engagement_number", "cancellation_reason", "return_reason")
    def _strip(self, _key: str, value: str | None) -> str | None:
        return (value or "").strip() or None

    def ensure_editable(self) -> None:
        if self.status is not OrderStatus.DRAFT:
            raise OrderNotEditable(self.reference, self.status)

    @property
    def next_position(self) -> int:
        return max((line.position for line in self.lines), default=0) + 1

    @property
    def fulfilment_status(self) -> OrderStatus:
        """What the deliveries and commissionings recorded so far make of a sent order."""
        done = [line.is_fulfilled for line in self.lines]
        if all(done):
            return OrderStatus.DELIVERED
        if any(line.has_progress for line in self.lines):
            return OrderStatus.PARTLY_DELIVERED
        return OrderStatus.ORDERED

    # Transitions: each checks the table, then the rules of its target.

    def submit(self, *, by: int | None, at: datetime) -> None:
        """Hand the order to the centre: it needs lines of products still offered, and
        the engagement number when the member's Chorus Pro invoices need one."""
        check_order_transition(self.status, OrderStatus.SUBMITTED)
        problems: dict[str, list[str]] = {}
        if not self.lines:
            problems["lines"] = ["an order needs at least one line"]
        withdrawn = [line.sku for line in self.lines if not line.product.active]
        if withdrawn:
            problems["lines"] = [f"no longer offered: {', '.join(withdrawn)}; remove them"]
        if self.member.chorus_engagement_required and not self.engagement_number:
            problems["engagement_number"] = [
                f"required: {self.member.name} needs its engagement number on Chorus Pro invoices"
            ]
        if problems:
            raise ValidationFailed("the order cannot be submitted", errors=problems)
        self.status = OrderStatus.SUBMITTED
        self.submitted_at, self.submitted_by_id = at, by

    def return_for_changes(self, *, reason: str, by: int | None, at: datetime) -> None:
        """Send a submitted order back to the member as a draft, saying why."""
        check_order_transition(self.status, OrderStatus.DRAFT)
        if not (reason or "").strip():
            raise ValidationFailed("say what the member should change", field="reason")
        self.status = OrderStatus.DRAFT
        self.return_reason = reason
        self.returned_at, self.returned_by_id = at, by

    def approve(self, *, by: int | None, at: datetime) -> None:
        check_order_transition(self.status, OrderStatus.APPROVED)
        self.status = OrderStatus.APPROVED
        self.approved_at, self.approved_by_id = at, by

    def mark_sent(self, *, by: int | None, at: datetime) -> None:
        check_order_transition(self.status, OrderStatus.ORDERED)
        self.status = OrderStatus.ORDERED
        self.sent_at, self.sent_by_id = at, by

    def cancel(self, *, reason: str, by: int | None, at: datetime) -> None:
        check_order_transition(self.status, OrderStatus.CANCELLED)
        if not (reason or "").strip():
            raise ValidationFailed("a cancellation needs a reason", field="reason")
        self.status = OrderStatus.CANCELLED
        self.cancellation_reason = reason
        self.cancelled_at, self.cancelled_by_id = at, by

    def close(self, *, by: int | None, at: datetime) -> None:
        check_order_transition(self.status, OrderStatus.CLOSED)
        self.status = OrderStatus.CLOSED
        self.closed_at, self.closed_by_id = at, by

    def ensure_deliverable(self) -> None:
        """Deliveries are recorded once the order is sent, until it is fully delivered."""
        if self.status not in DELIVERABLE_STATUSES:
            raise InvalidTransition("order", self.status.value, OrderStatus.DELIVERED.value)

    def follow_fulfilment(self, *, at: datetime) -> bool:
        """Move to partly delivered or delivered as the lines say; True if it moved."""
        target = self.fulfilment_status
        if target is self.status:
            return False
        check_order_transition(self.status, target)
        self.status = target
        if target is OrderStatus.DELIVERED:
            self.delivered_at = at
        return True


class OrderLine(Base):
    """A line of an order: a product, a quantity, and the prices frozen on the order date.

    The price columns copy the catalogue's ``PriceQuote`` of the order date when the line
    is added, and never change afterwards.

    A recurring item's set-up fee (``setup_fee_price`` per unit) is a one-off charge, due
    when the item is commissioned: commissioning a wholesaler line sets
    ``setup_fee_due_on``, and billing invoices the fee once, then records
    ``setup_fee_billed_on`` once :meth:`check_setup_fee_billable` allows it.
    """

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "delivered_quantity >= 0 AND delivered_quantity <= quantity",
            name="delivered_within_ordered",
        ),
        CheckConstraint(
            "billing != 'one_off' OR (commissioned_on IS NULL AND setup_fee_cost IS NULL)",
            name="one_off_is_delivered_not_commissioned",
        ),
        CheckConstraint(
            "purchase_mode = 'intermediary' OR "
            "(sales_account IS NOT NULL AND purchase_account IS NOT NULL)",
            name="wholesaler_has_accounts",
        ),
        CheckConstraint(
            "setup_fee_price IS NULL OR setup_fee_cost IS NOT NULL", name="setup_fee_has_cost"
        ),
        CheckConstraint(
            "setup_fee_due_on IS NULL OR setup_fee_price IS NOT NULL",
            name="setup_fee_due_has_price",
        ),
        CheckConstraint(
            "setup_fee_billed_on IS NULL OR setup_fee_due_on IS NOT NULL",
            name="setup_fee_billed_when_due",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    #: Rank of the line in its order, from 1; a removed line leaves a gap.
    position: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(QuantityType)
    delivery_site: Mapped[str] = mapped_column(String(DELIVERY_SITE_LENGTH), default="")
    note: Mapped[str] = mapped_column(String(LINE_NOTE_LENGTH), default="")

    # Frozen from the catalogue on the order date.
    price_version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id"))
    sku: Mapped[str] = mapped_column(String(40))
    #: The product's name when ordered, as the quote and invoices print it.
    designation: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(30))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    family_code: Mapped[str] = mapped_column(String(40))
    purchase_mode: Mapped[PurchaseMode] = mapped_column(
        enum_column(PurchaseMode, length=32, name="purchase_mode", check=True)
    )
    billing: Mapped[Billing] = mapped_column(
        enum_column(Billing, length=32, name="billing", check=True)
    )
    #: Per unit (per billing period for a recurring item), before VAT.
    supplier_cost: Mapped[Decimal]
    #: What the member pays per unit (per period), before VAT; for an intermediary item,
    #: the market price it pays the supplier directly.
    sale_price: Mapped[Decimal]
    setup_fee_cost: Mapped[Decimal | None]
    setup_fee_price: Mapped[Decimal | None]
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    subsidy_eligible: Mapped[bool]
    #: Ledger accounts of the resale; None for an intermediary item (never in the books).
    sales_account: Mapped[str | None] = mapped_column(String(10))
    purchase_account: Mapped[str | None] = mapped_column(String(10))
    #: The framework market lot the item is bought under, whose dates and ceiling apply.
    #: None only for lines placed before markets were recorded.
    market_lot_id: Mapped[int | None] = mapped_column(ForeignKey("market_lots.id"), index=True)
    #: The syndicat's deliberation that set the prices kept (the price version's), for
    #: documents to cite. None only for lines placed before deliberations were kept.
    deliberation_reference: Mapped[str | None] = mapped_column(
        String(DELIBERATION_REFERENCE_LENGTH)
    )
    deliberation_date: Mapped[date | None]

    # Follow-up.
    #: Of a one-off item: how much of the quantity has been delivered so far.
    delivered_quantity: Mapped[Decimal] = mapped_column(QuantityType, default=NO_QUANTITY)
    #: Of a recurring item: the commissioning date (mise en service), from which it is billed.
    commissioned_on: Mapped[date | None]
    #: The day the set-up fee fell due (the commissioning date), for billing to invoice once.
    setup_fee_due_on: Mapped[date | None]
    #: Set by billing when it invoiced the set-up fee.
    setup_fee_billed_on: Mapped[date | None]

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    market_lot: Mapped[MarketLot | None] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="order_line", order_by="Delivery.id", cascade="all, delete-orphan"
    )
    subscription: Mapped[Subscription | None] = relationship(back_populates="order_line")

    @classmethod
    def priced(
        cls,
        product: OrderableProduct,
        *,
        quantity: Decimal,
        position: int,
        delivery_site: str = "",
        note: str = "",
    ) -> OrderLine:
        """A line of ``product`` keeping its prices of the day (its ``quote``)."""
        quote = product.quote
        if quote is None:
            raise ValueError(f"{product.sku} has no price in force: it cannot be priced")
        line = cls(
            position=position,
            product_id=product.product_id,
            quantity=quantity,
            delivery_site=delivery_site,
            note=note,
            price_version_id=quote.price_version_id,
            sku=quote.sku,
            designation=product.name,
            unit=product.unit,
            supplier_id=product.supplier_id,
            family_code=quote.family_code,
            purchase_mode=quote.purchase_mode,
            billing=quote.billing,
            supplier_cost=quote.supplier_cost,
            sale_price=quote.sale_price,
            setup_fee_cost=quote.setup_fee_cost,
            setup_fee_price=quote.setup_fee_price,
            vat_rate=quote.vat_rate,
            subsidy_eligible=quote.subsidy_eligible,
            sales_account=quote.sales_account,
            purchase_account=quote.purchase_account,
            market_lot_id=quote.lot_id,
            deliberation_reference=quote.deliberation.reference,
            deliberation_date=quote.deliberation.adopted_on,
        )
        # Not a column: the lot's reference as the catalogue gave it, for this instance.
        line.__dict__[_PRICED_LOT] = product.lot.reference if product.lot is not None else None
        return line

    @validates("quantity")
    def _validate_quantity(self, key: str, value: Any) -> Decimal:
        return _check_quantity(key, value)

    @validates("delivery_site", "note")
    def _strip(self, _key: str, value: str | None) -> str:
        return (value or "").strip()

    @property
    def is_recurring(self) -> bool:
        return self.billing.is_recurring

    @property
    def deliberation(self) -> Deliberation | None:
        """The deliberation that set the prices of the line, as documents cite it."""
        return Deliberation.of(self.deliberation_reference, self.deliberation_date)

    @property
    def market_reference(self) -> str | None:
        """The market and lot the item is bought under: "MAR-2023-01 lot 2"."""
        if _PRICED_LOT in self.__dict__:  # a line just priced knows it without a query
            return self.__dict__[_PRICED_LOT]
        return self.market_lot.reference if self.market_lot is not None else None

    @property
    def ceiling_amount(self) -> Decimal:
        """What the line commits of its lot's yearly ceiling, before VAT.

        What the market holder is paid (the supplier cost, which is also what an
        intermediary member pays it) for twelve months: a one-off item and its set-up fee
        once, a monthly item twelve times, a yearly item once.
        """
        periods = 12 if self.billing is Billing.MONTHLY else 1
        amount = line_amount(self.supplier_cost, self.quantity) * periods
        if self.setup_fee_cost is not None:
            amount += line_amount(self.setup_fee_cost, self.quantity)
        return amount

    @property
    def contracted_directly_by_member(self) -> bool:
        """An intermediary item: the member contracts and pays the supplier itself."""
        return self.purchase_mode is PurchaseMode.INTERMEDIARY

    @property
    def amount(self) -> Decimal:
        """Sale amount before VAT (per billing period for a recurring item)."""
        return line_amount(self.sale_price, self.quantity)

    @property
    def setup_fee_amount(self) -> Decimal | None:
        if self.setup_fee_price is None:
            return None
        return line_amount(self.setup_fee_price, self.quantity)

    @property
    def cost_amount(self) -> Decimal:
        return line_amount(self.supplier_cost, self.quantity)

    def ensure_amounts_fit(self) -> None:
        """Refuse a quantity whose amounts (sale, cost, set-up fee) no column could hold."""
        costs = [self.cost_amount, self.amount, self.setup_fee_amount]
        if self.setup_fee_cost is not None:
            costs.append(line_amount(self.setup_fee_cost, self.quantity))
        if any(amount is not None and amount > MAX_AMOUNT for amount in costs):
            raise ValidationFailed(
                f"too large: an amount of the line would pass {MAX_AMOUNT}", field="quantity"
            )

    @property
    def is_fulfilled(self) -> bool:
        if self.is_recurring:
            return self.commissioned_on is not None
        return self.delivered_quantity >= self.quantity

    @property
    def has_progress(self) -> bool:
        return self.commissioned_on is not None or self.delivered_quantity > 0

    @property
    def subscription_id(self) -> int | None:
        return self.subscription.id if self.subscription is not None else None

    @property
    def quantity_to_deliver(self) -> Decimal:
        return self.quantity - self.delivered_quantity

    def record_delivery(self, *, quantity: Decimal, delivered_on: date, today: date) -> Delivery:
        """Record that ``quantity`` of a one-off item was delivered on ``delivered_on``."""
        if self.is_recurring:
            raise ValidationFailed(
                f"{self.sku} is billed {self.billing.value}: record its commissioning",
                field="line_id",
            )
        quantity = _check_quantity("quantity", quantity)
        self._check_event_date("delivered_on", delivered_on, today=today)
        if quantity > self.quantity_to_deliver:
            raise ValidationFailed(
                f"only {plain_quantity(self.quantity_to_deliver)} left to deliver "
                f"of {plain_quantity(self.quantity)} ordered",
                field="quantity",
            )
        self.delivered_quantity += quantity
        delivery = Delivery(quantity=quantity, delivered_on=delivered_on)
        self.deliveries.append(delivery)
        return delivery

    def record_commissioning(self, *, commissioned_on: date, today: date) -> None:
        """Record the commissioning (mise en service) of a recurring item."""
        if not self.is_recurring:
            raise ValidationFailed(
                f"{self.sku} is a one-off item: record its delivery", field="line_id"
            )
        if self.commissioned_on is not None:
            raise Conflict(
                f"already commissioned on {self.commissioned_on.isoformat()}",
                field="commissioned_on",
            )
        self._check_event_date("commissioned_on", commissioned_on, today=today)
        self.commissioned_on = commissioned_on
        if self.setup_fee_price is not None and not self.contracted_directly_by_member:
            self.setup_fee_due_on = commissioned_on

    def check_setup_fee_billable(self) -> None:
        """Raise unless a set-up fee is due on this line and not billed yet."""
        if self.setup_fee_due_on is None:
            raise Conflict("no set-up fee is due on this line", field="setup_fee_due_on")
        if self.setup_fee_billed_on is not None:
            raise Conflict(
                f"set-up fee already billed on {self.setup_fee_billed_on.isoformat()}",
                field="setup_fee_billed_on",
            )

    def _check_event_date(self, field: str, day: date, *, today: date) -> None:
        if day < self.order.order_date:
            raise ValidationFailed(
                f"before the order date ({self.order.order_date.isoformat()})", field=field
            )
        if day > today:
            raise ValidationFailed("may not be in the future", field=field)


class Delivery(Base):
    """A delivery of (part of) a one-off item, on a date."""

    __tablename__ = "order_line_deliveries"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(QuantityType)
    delivered_on: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Set by billing when it invoiced this delivery (wholesaler items only).
    billed_on: Mapped[date | None]

    order_line: Mapped[OrderLine] = relationship(back_populates="deliveries")

    def check_billable(self) -> None:
        """Raise unless this delivery is the centre's to bill and not billed yet."""
        if self.order_line.contracted_directly_by_member:
            raise Conflict("the member pays the supplier directly", field="order_line_id")
        if self.billed_on is not None:
            raise Conflict(f"already billed on {self.billed_on.isoformat()}", field="billed_on")


# --- Framework market ceilings -----------------------------------------------------------


class MarketLotCommitment(Base):
    """What an approved order commits of a market lot's yearly ceiling.

    Written when the order is approved, for the calendar year of the approval (in Paris);
    raised when a subscription of the order takes more units (for the year the centre
    agrees to it: a row of that year is added, or the year's row raised); released, never
    deleted, when the approved order is cancelled. The consumption of a lot in a year is
    the sum of its commitments not released.
    """

    __tablename__ = "market_lot_commitments"
    __table_args__ = (
        UniqueConstraint("lot_id", "order_id", "year"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("market_lots.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    #: The calendar year of the approval (or of a quantity raised), whose ceiling it consumes.
    year: Mapped[int]
    #: Before VAT: the sum of the lines' ``ceiling_amount`` in this lot, and of what their
    #: subscriptions' raised quantities commit (:meth:`Subscription.ceiling_amount_of`).
    amount: Mapped[Decimal]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the order was cancelled and its commitment given back.
    released_at: Mapped[datetime | None]

    lot: Mapped[MarketLot] = relationship()
    order: Mapped[Order] = relationship()


# --- Purchase orders --------------------------------------------------------------------


class PurchaseOrderStatus(enum.StrEnum):
    #: Numbered when the order was approved, not yet sent to the supplier.
    ISSUED = "issued"
    SENT = "sent"
    PARTLY_INVOICED = "partly_invoiced"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


_P = PurchaseOrderStatus
_INVOICING = frozenset({_P.SENT, _P.PARTLY_INVOICED, _P.INVOICED})
#: A sent purchase order moves between the invoicing statuses as supplier invoices are
#: recorded, or rejected; only an unsent one can be cancelled, with its order.
PURCHASE_ORDER_TRANSITIONS: Mapping[PurchaseOrderStatus, frozenset[PurchaseOrderStatus]] = {
    _P.ISSUED: frozenset({_P.SENT, _P.CANCELLED}),
    _P.SENT: _INVOICING - {_P.SENT},
    _P.PARTLY_INVOICED: _INVOICING - {_P.PARTLY_INVOICED},
    _P.INVOICED: _INVOICING - {_P.INVOICED},
    _P.CANCELLED: frozenset(),
}


class PurchaseOrderLineKind(enum.StrEnum):
    ITEM = "item"
    #: The one-off set-up fee of a recurring item, ordered with it.
    SETUP_FEE = "setup_fee"


class PurchaseOrder(Base):
    """The centre's order to one supplier for the wholesaler lines of a member's order."""

    __tablename__ = "purchase_orders"
    __table_args__ = (
        # One purchase order per supplier and order: approving twice cannot duplicate them.
        UniqueConstraint("order_id", "supplier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "BCF-2026-000007": series BCF, year of issue, without gaps.
    number: Mapped[str] = mapped_column(String(REFERENCE_LENGTH), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[PurchaseOrderStatus] = mapped_column(
        enum_column(PurchaseOrderStatus, length=32, name="purchase_order_status", check=True),
        default=PurchaseOrderStatus.ISSUED,
        index=True,
    )
    issued_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order: Mapped[Order] = relationship(back_populates="purchase_orders")
    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order",
        order_by="PurchaseOrderLine.id",
        cascade="all, delete-orphan",
    )
    supplier_invoices: Mapped[list[SupplierInvoice]] = relationship(
        back_populates="purchase_order", order_by="SupplierInvoice.id"
    )

    @property
    def total_cost(self) -> Decimal:
        """What the centre owes the supplier before VAT (one period of recurring items)."""
        return sum((line.amount for line in self.lines), ZERO)

    def _move_to(self, target: PurchaseOrderStatus) -> None:
        if target not in PURCHASE_ORDER_TRANSITIONS[self.status]:
            raise InvalidTransition("purchase order", self.status.value, target.value)
        self.status = target

    def mark_sent(self, *, by: int | None, at: datetime) -> None:
        self._move_to(PurchaseOrderStatus.SENT)
        self.sent_at, self.sent_by_id = at, by

    def cancel(self, *, by: int | None, at: datetime) -> None:
        self._move_to(PurchaseOrderStatus.CANCELLED)
        self.cancelled_at, self.cancelled_by_id = at, by

    def ensure_invoiceable(self) -> None:
        if self.status not in _INVOICING:
            raise Conflict(
                f"purchase order {self.number} is {self.status.value}: "
                "supplier invoices are recorded against sent purchase orders only",
                field="purchase_order_id",
            )

    def follow_invoicing(self) -> bool:
        """Move between sent / partly invoiced / invoiced as the invoices say; True if moved.

        A one-off line is invoiced once its whole quantity is; a recurring line once a
        first period is (its later periods are followed on its subscription).
        """
        counted = [line for line in self.lines if line.counted_invoice_lines]
        if not counted:
            target = PurchaseOrderStatus.SENT
        elif all(line.is_invoiced for line in self.lines):
            target = PurchaseOrderStatus.INVOICED
        else:
            target = PurchaseOrderStatus.PARTLY_INVOICED
        if target is self.status:
            return False
        self._move_to(target)
        return True


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("order_line_id", "kind"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("kind = 'item' OR billing = 'one_off'", name="setup_fee_is_one_off"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    kind: Mapped[PurchaseOrderLineKind] = mapped_column(
        enum_column(PurchaseOrderLineKind, length=32, name="purchase_order_line_kind", check=True)
    )
    #: How the supplier bills it: a recurring item is invoiced period after period.
    billing: Mapped[Billing] = mapped_column(
        enum_column(Billing, length=32, name="billing", check=True)
    )
    sku: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(250))
    quantity: Mapped[Decimal] = mapped_column(QuantityType)
    #: The supplier cost frozen on the order line.
    unit_cost: Mapped[Decimal]
    amount: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    purchase_account: Mapped[str] = mapped_column(String(10))

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
    invoice_lines: Mapped[list[SupplierInvoiceLine]] = relationship(
        back_populates="purchase_order_line", order_by="SupplierInvoiceLine.id"
    )

    @classmethod
    def for_item(cls, line: OrderLine) -> PurchaseOrderLine:
        return cls(
            order_line=line,
            kind=PurchaseOrderLineKind.ITEM,
            billing=line.billing,
            sku=line.sku,
            description=line.designation,
            quantity=line.quantity,
            unit_cost=line.supplier_cost,
            amount=line_amount(line.supplier_cost, line.quantity),
            vat_rate=line.vat_rate,
            purchase_account=line.purchase_account,
        )

    @classmethod
    def for_setup_fee(cls, line: OrderLine) -> PurchaseOrderLine:
        return cls(
            order_line=line,
            kind=PurchaseOrderLineKind.SETUP_FEE,
            billing=Billing.ONE_OFF,
            sku=line.sku,
            description=setup_fee_designation(line.designation),
            quantity=line.quantity,
            unit_cost=line.setup_fee_cost,
            amount=line_amount(line.setup_fee_cost, line.quantity),
            vat_rate=line.vat_rate,
            purchase_account=line.purchase_account,
        )

    @property
    def is_recurring(self) -> bool:
        return self.billing.is_recurring

    @property
    def counted_invoice_lines(self) -> list[SupplierInvoiceLine]:
        """Invoice lines of supplier invoices not rejected (mismatches pending included)."""
        return [il for il in self.invoice_lines if il.invoice.counts_as_invoiced]

    @property
    def invoiced_quantity(self) -> Decimal:
        return sum((il.quantity for il in self.counted_invoice_lines), ZERO)

    @property
    def invoiced_amount(self) -> Decimal:
        return sum((il.amount for il in self.counted_invoice_lines), ZERO)

    @property
    def is_invoiced(self) -> bool:
        if self.is_recurring:
            return bool(self.counted_invoice_lines)
        return self.invoiced_quantity >= self.quantity


# --- Supplier invoices ------------------------------------------------------------------


class SupplierInvoiceStatus(enum.StrEnum):
    #: Quantities and amounts agree with the purchase order: in the books.
    MATCHED = "matched"
    #: Something disagrees (see its lines): flagged, not in the books until decided.
    MISMATCH = "mismatch"
    #: A mismatch accepted by the purchasing staff, with a reason: in the books.
    ACCEPTED = "accepted"
    #: A mismatch refused, with a reason: never in the books, the supplier must correct it.
    REJECTED = "rejected"


_I = SupplierInvoiceStatus
SUPPLIER_INVOICE_TRANSITIONS: Mapping[SupplierInvoiceStatus, frozenset[SupplierInvoiceStatus]] = {
    _I.MATCHED: frozenset(),
    _I.MISMATCH: frozenset({_I.ACCEPTED, _I.REJECTED}),
    _I.ACCEPTED: frozenset(),
    _I.REJECTED: frozenset(),
}


class SupplierInvoice(Base):
    """A supplier's invoice for (part of) a purchase order, matched against it."""

    __tablename__ = "supplier_invoices"
    __table_args__ = (
        # A supplier numbers its own invoices: the same number twice is the same invoice.
        UniqueConstraint("supplier_id", "invoice_number"),
        CheckConstraint(
            # In cents: SQLite compares these numerics as binary floats.
            "ROUND(total_incl_vat * 100) = ROUND(total_excl_vat * 100) + ROUND(total_vat * 100)",
            name="total_is_sum_of_parts",
        ),
        CheckConstraint(
            "(status IN ('accepted', 'rejected')) = (decision_reason IS NOT NULL)",
            name="decision_has_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    #: The supplier's own invoice number, as printed on its invoice.
    invoice_number: Mapped[str] = mapped_column(String(SUPPLIER_INVOICE_NUMBER_LENGTH))
    invoice_date: Mapped[date]
    total_excl_vat: Mapped[Decimal]
    total_vat: Mapped[Decimal]
    total_incl_vat: Mapped[Decimal]
    status: Mapped[SupplierInvoiceStatus] = mapped_column(
        enum_column(SupplierInvoiceStatus, length=32, name="supplier_invoice_status", check=True),
        index=True,
    )
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When and by whom a mismatch was accepted or rejected, and why.
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="supplier_invoices")
    lines: Mapped[list[SupplierInvoiceLine]] = relationship(
        back_populates="invoice", order_by="SupplierInvoiceLine.id", cascade="all, delete-orphan"
    )

    @property
    def counts_as_invoiced(self) -> bool:
        return self.status is not SupplierInvoiceStatus.REJECTED

    @property
    def is_booked(self) -> bool:
        """In the centre's books: matched, or a mismatch accepted."""
        return self.status in {SupplierInvoiceStatus.MATCHED, SupplierInvoiceStatus.ACCEPTED}

    def decide(
        self, target: SupplierInvoiceStatus, *, reason: str, by: int | None, at: datetime
    ) -> None:
        """Accept or reject a mismatch; the reason is kept for the auditors."""
        if target not in SUPPLIER_INVOICE_TRANSITIONS[self.status]:
            raise InvalidTransition("supplier invoice", self.status.value, target.value)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed("say why", field="reason")
        self.status = target
        self.decision_reason = reason
        self.decided_at, self.decided_by_id = at, by


class SupplierInvoiceLine(Base):
    __tablename__ = "supplier_invoice_lines"
    __table_args__ = (
        # Named here: the conventional name would pass PostgreSQL's 63 characters.
        UniqueConstraint(
            "supplier_invoice_id",
            "purchase_order_line_id",
            name="uq_supplier_invoice_lines_purchase_order_line",
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "(period_start IS NULL) = (period_end IS NULL) AND "
            "(period_end IS NULL OR period_end >= period_start)",
            name="period_is_whole",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoices.id"), index=True)
    purchase_order_line_id: Mapped[int] = mapped_column(
        ForeignKey(
            "purchase_order_lines.id", name="fk_supplier_invoice_lines_purchase_order_line_id"
        ),
        index=True,
    )
    quantity: Mapped[Decimal] = mapped_column(QuantityType)
    unit_cost: Mapped[Decimal]
    amount: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    #: The days a recurring item is invoiced for (both included); None for one-off items.
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    #: Why the line disagrees with its purchase order line; empty when it matches.
    mismatches: Mapped[list[str]] = mapped_column(JSON, default=list)

    invoice: Mapped[SupplierInvoice] = relationship(back_populates="lines")
    purchase_order_line: Mapped[PurchaseOrderLine] = relationship(back_populates="invoice_lines")

    def overlaps(self, first: date, last: date) -> bool:
        if self.period_start is None or self.period_end is None:
            return False
        return self.period_start <= last and first <= self.period_end


# --- Subscriptions ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuantitySegment:
    """Days ``first`` to ``last`` (both included) during which ``quantity`` was in force."""

    first: date
    last: date
    quantity: Decimal


def quantity_segments(
    history: Sequence[tuple[date, Decimal]],
    *,
    start: date,
    end: date | None,
    first: date,
    last: date,
) -> list[QuantitySegment]:
    """The quantities in force from ``first`` to ``last``, clipped to the subscription.

    ``history`` holds ``(effective_from, quantity)`` pairs; ``start``/``end`` are the
    subscription's first and last days (``end`` None while it runs). Days outside the
    subscription are left out: billing prorates a period over the segments it gets.
    """
    low, high = max(first, start), last if end is None else min(last, end)
    ordered = sorted(history)
    segments = []
    for index, (effective_from, quantity) in enumerate(ordered):
        following = ordered[index + 1][0] if index + 1 < len(ordered) else None
        seg_first = max(effective_from, low)
        seg_last = high if following is None else min(following - timedelta(days=1), high)
        if seg_first <= seg_last:
            segments.append(QuantitySegment(seg_first, seg_last, quantity))
    return segments


class Subscription(Base):
    """A recurring wholesaler item in service: billed per period from its start date.

    Created when the order line is commissioned. Prices are those frozen on the order
    line; the quantity may change from a date on (``quantities``). ``end_date`` is the
    last day billed, set when the subscription is terminated.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("billing_period != 'one_off'", name="billing_period_is_recurring"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    billing_period: Mapped[Billing] = mapped_column(
        enum_column(Billing, length=32, name="billing", check=True)
    )
    #: Sale price per unit and billing period, before VAT, frozen on the order line.
    unit_price: Mapped[Decimal]
    unit_cost: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Rate)
    subsidy_eligible: Mapped[bool]
    #: The commissioning date: first day billed.
    start_date: Mapped[date]
    #: Last day billed (included), once terminated.
    end_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    terminated_at: Mapped[datetime | None]
    terminated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order_line: Mapped[OrderLine] = relationship(back_populates="subscription")
    quantities: Mapped[list[SubscriptionQuantity]] = relationship(
        back_populates="subscription",
        order_by="SubscriptionQuantity.effective_from",
        cascade="all, delete-orphan",
    )

    @classmethod
    def for_line(cls, line: OrderLine, *, member_id: int) -> Subscription:
        """The subscription of a commissioned recurring line, with its first quantity."""
        subscription = cls(
            member_id=member_id,
            product_id=line.product_id,
            order_line=line,
            billing_period=line.billing,
            unit_price=line.sale_price,
            unit_cost=line.supplier_cost,
            vat_rate=line.vat_rate,
            subsidy_eligible=line.subsidy_eligible,
            start_date=line.commissioned_on,
        )
        subscription.quantities.append(
            SubscriptionQuantity(effective_from=line.commissioned_on, quantity=line.quantity)
        )
        return subscription

    @property
    def history(self) -> list[tuple[date, Decimal]]:
        return sorted((q.effective_from, q.quantity) for q in self.quantities)

    def covers(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def ceiling_amount_of(self, added: Decimal) -> Decimal:
        """What ``added`` more units commit of the lot's yearly ceiling, before VAT: what
        the holder is paid for them over twelve months, as :attr:`OrderLine.ceiling_amount`
        counts (no set-up fee: it was due once, at commissioning)."""
        periods = 12 if self.billing_period is Billing.MONTHLY else 1
        return line_amount(self.unit_cost, added) * periods

    def quantity_on(self, day: date) -> Decimal:
        """The quantity in force on ``day``; 0 outside the subscription's days."""
        segments = quantity_segments(
            self.history, start=self.start_date, end=self.end_date, first=day, last=day
        )
        return segments[0].quantity if segments else ZERO

    def quantity_segments(self, first: date, last: date) -> list[QuantitySegment]:
        """The quantities in force from ``first`` to ``last``, for prorating a period."""
        return quantity_segments(
            self.history, start=self.start_date, end=self.end_date, first=first, last=last
        )

    def terminate(self, *, end_date: date, by: int | None, at: datetime) -> None:
        if self.end_date is not None:
            raise Conflict(
                f"already terminated: it ends on {self.end_date.isoformat()}", field="end_date"
            )
        if end_date < self.start_date:
            raise ValidationFailed(
                f"before the start of the subscription ({self.start_date.isoformat()})",
                field="end_date",
            )
        later = [day for day, _quantity in self.history if day > end_date]
        if later:
            raise ValidationFailed(
                f"a quantity change takes effect on {later[0].isoformat()}, after this end",
                field="end_date",
            )
        self.end_date = end_date
        self.terminated_at, self.terminated_by_id = at, by

    def change_quantity(self, *, quantity: Decimal, effective_from: date) -> SubscriptionQuantity:
        """Set the quantity from ``effective_from`` on; a change already dated that day is
        replaced (the audit trail keeps the previous value)."""
        quantity = _check_quantity("quantity", quantity)
        if not self.covers(effective_from):
            ends = f" to {self.end_date.isoformat()}" if self.end_date else ""
            raise ValidationFailed(
                f"outside the subscription ({self.start_date.isoformat()}{ends})",
                field="effective_from",
            )
        if self.quantity_on(effective_from) == quantity:
            raise ValidationFailed(
                f"already {plain_quantity(quantity)} on {effective_from.isoformat()}",
                field="quantity",
            )
        entry = next((q for q in self.quantities if q.effective_from == effective_from), None)
        if entry is None:
            entry = SubscriptionQuantity(effective_from=effective_from, quantity=quantity)
            self.quantities.append(entry)
        else:
            entry.quantity = quantity
        return entry


class SubscriptionQuantity(Base):
    """The quantity of a subscription from a date on, until the next change."""

    __tablename__ = "subscription_quantities"
    __table_args__ = (
        UniqueConstraint("subscription_id", "effective_from"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    effective_from: Mapped[date]
    quantity: Mapped[Decimal] = mapped_column(QuantityType)

    subscription: Mapped[Subscription] = relationship(back_populates="quantities")
