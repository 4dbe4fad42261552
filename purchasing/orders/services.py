"""Use cases of an order's life: create, change, submit, approve, send, deliver, close.

Each public function is one use case and one transaction: it commits once, at its end, and
leaves nothing behind when it refuses. The acting user comes in as ``actor`` (None for an
operator command). A member user only ever sees its own collectivity's orders: another
member's order is unknown to it (``NotFound``), never forbidden. Every change writes an
audit record; what billing and the ledger need is published as domain events in the same
transaction:

- ``order.line_delivered`` — a delivery of a one-off wholesaler item, to invoice;
- ``subscription.started`` — see :mod:`purchasing.orders.subscriptions`.

Intermediary lines are followed (delivery, commissioning) but publish nothing: the
member contracts and pays the supplier directly.

The rules of public procurement apply at each step: a line is placed only for an item of
a service domain the member has joined, on a day its framework market is in force, at the
prices of the version in force (set by a deliberation, whose reference the line keeps);
submission and approval check the member's adhesion and domains again on the day; approval
checks the markets are still in force and records what the order commits of their lots'
yearly ceilings (:mod:`purchasing.orders.markets`), which a cancellation gives back.

Transitions lock the order row (``SELECT ... FOR UPDATE``), so that two people approving
or sending the same order at once cannot both succeed: the second waits, then finds the
order already moved on and is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from purchasing.audit.services import NewRecord, record_change, record_changes, snapshot
from purchasing.auth.roles import Actor, Role, member_scope, visible_to
from purchasing.catalog.models import Supplier
from purchasing.catalog.orderable import OrderableProduct, orderable_products
from purchasing.catalog.services import NoPriceInForce
from purchasing.db import utcnow
from purchasing.errors import Conflict, NotFound, ValidationFailed
from purchasing.events import publish
from purchasing.fields import today_in_paris
from purchasing.members.models import Member
from purchasing.members.services import (
    ServiceDomainNotJoined,
    ensure_member_can_order,
    ensure_member_in_domain,
)
from purchasing.money import line_amount
from purchasing.numbering import format_number, next_number
from purchasing.orders import markets, purchase_orders, subscriptions
from purchasing.orders.models import (
    QUOTABLE_STATUSES,
    REFERENCE_LENGTH,
    Delivery,
    Order,
    OrderLine,
    OrderStatus,
)
from purchasing.orders.quote import Quote, build_quote
from purchasing.orders.roles import BUYERS, ORDERERS, actor_id, require_role
from purchasing.unit_of_work import (
    Page,
    adopt_inserted,
    insert_returning,
    paginate,
    transaction,
)

__all__ = [
    "ORDER_SERIES",
    "LineInput",
    "OrderFilters",
    "add_order_line",
    "approve_order",
    "cancel_order",
    "close_order",
    "create_order",
    "get_order",
    "list_orders",
    "quote_of_order",
    "record_commissioning",
    "record_delivery",
    "remove_order_line",
    "return_order",
    "send_order",
    "submit_order",
    "update_order",
    "update_order_line",
]

#: Numbering series of orders: "CMD-2026-000042".
ORDER_SERIES = "CMD"
#: The fields of a draft, and of its lines, that may be changed.
ORDER_FIELDS = frozenset({"engagement_number", "note"})
LINE_FIELDS = frozenset({"quantity", "delivery_site", "note"})


@dataclass(frozen=True)
class LineInput:
    """A line to add: the product's SKU, a quantity, where to deliver, a free note."""

    sku: str
    quantity: Decimal
    delivery_site: str = ""
    note: str = ""


@dataclass(frozen=True)
class OrderFilters:
    status: OrderStatus | None = None
    #: Staff only: a member user's list is always its own member's.
    member_id: int | None = None


# --- Reading ----------------------------------------------------------------------------


def _visible_orders(actor: Actor | None) -> Select[tuple[Order]]:
    return visible_to(actor, select(Order), Order.member_id)


def get_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """The order, if the actor may see it: a member user sees only its member's."""
    order = session.scalar(_visible_orders(actor).where(Order.id == order_id))
    if order is None:
        raise NotFound(f"no order with id {order_id}", field="order_id")
    return order


def list_orders(
    session: Session,
    *,
    actor: Actor | None,
    filters: OrderFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Order]:
    """Orders, most recent first; a member user gets only its member's."""
    filters = filters or OrderFilters()
    query = _visible_orders(actor)
    if filters.status is not None:
        query = query.where(Order.status == filters.status)
    if filters.member_id is not None:
        query = query.where(Order.member_id == filters.member_id)
    lines = selectinload(Order.lines)
    query = query.options(
        selectinload(Order.member),
        selectinload(Order.purchase_orders),
        lines.selectinload(OrderLine.deliveries),
        lines.selectinload(OrderLine.subscription),
    ).order_by(Order.order_date.desc(), Order.id.desc())
    return paginate(session, query, page=page, per_page=per_page)


def _lock_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """The order, locked until the end of the transaction and read afresh."""
    order = session.scalar(
        _visible_orders(actor)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(f"no order with id {order_id}", field="order_id")
    return order


def _line_of(order: Order, line_id: int) -> OrderLine:
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"no line {line_id} in order {order.reference}", field="line_id")
    return line


# --- Drafts -----------------------------------------------------------------------------


def create_order(
    session: Session,
    *,
    actor: Actor | None,
    member_id: int | None = None,
    order_date: date | None = None,
    engagement_number: str | None = None,
    note: str = "",
    lines: Iterable[LineInput] = (),
    submit: bool = False,
) -> Order:
    """Open a draft order for a member, numbered in the CMD series, with its first lines.

    A member user orders for its own member only, on today's prices; the staff order on a
    member's behalf and may date an order in the past (a paper order keyed in later).
    With ``submit``, the order is also handed to the centre in the same transaction (a
    cart ordered at once): refused by any rule of :func:`submit_order`, nothing is left.
    """
    require_role(actor, ORDERERS, "create an order")
    today = today_in_paris()
    scope = member_scope(actor)
    if scope is not None:
        if member_id not in (None, scope):
            raise ValidationFailed(f"no member with id {member_id}", field="member_id")
        if order_date not in (None, today):
            raise ValidationFailed("only the centre's staff may date an order", field="order_date")
        member_id = scope
    if member_id is None:
        raise ValidationFailed("the member who orders is required", field="member_id")
    order_date = order_date or today
    if order_date > today:
        raise ValidationFailed("may not be in the future", field="order_date")

    with transaction(session):
        # Held for the whole use case (the session only keeps weak references): each line
        # checks its domains, and the answer shows its name, without reading it again.
        member = session.get(Member, member_id, options=[joinedload(Member.service_domains)])
        if member is None:
            raise ValidationFailed(f"no member with id {member_id}", field="member_id")
        lines = list(lines)
        # Every line's product and price at once, as this process keeps them.
        products = orderable_products(session, (line.sku for line in lines), order_date)
        order = Order(
            member_id=member_id,
            member=member,
            order_date=order_date,
            status=OrderStatus.DRAFT,
            engagement_number=engagement_number,
            note=(note or "").strip(),
            created_by_id=actor_id(actor),
            # A new order has no line yet, nor any purchase order: known without asking.
            lines=[],
            purchase_orders=[],
        )
        placed = []
        for index, line in enumerate(lines):
            try:
                placed.append(_place_line(session, order, line, products.get(line.sku)))
            except ValidationFailed as exc:
                raise ValidationFailed(
                    f"line {index + 1}: {exc.message}",
                    errors={f"lines[{index}].{field}": msgs for field, msgs in exc.errors.items()},
                ) from None
        # The number last: its counter row stays locked until the commit, so the order and
        # its lines are written first under a reference no one else can see nor take, and
        # the lock covers only the number, this order's update and the audit records (one
        # INSERT).
        order.reference = _provisional_reference()
        _write_new_order(session, order)
        year = order_date.year
        order.reference = format_number(
            ORDER_SERIES, year, next_number(session, ORDER_SERIES, year)
        )
        # The lines' records and the order's, numbered, in one INSERT.
        record_changes(
            session,
            actor=actor,
            records=[
                *(_new_line_record(line) for line in placed),
                NewRecord("order.created", "order", order.id, after=snapshot(order)),
            ],
        )
        if submit:
            _submit(session, order, actor=actor)
    return order


def _write_new_order(session: Session, order: Order) -> None:
    """Write the new ``order`` and its lines, one INSERT each, and hand them to the
    session as written: the ORM's unit of work cost a quarter of placing an order."""
    insert_returning(session, [order])
    for line in order.lines:
        line.order_id = order.id
    insert_returning(session, order.lines)
    adopt_inserted(session, [order, *order.lines])


def _provisional_reference() -> str:
    """A reference unique among the orders (their ``CMD-`` numbers included) that a new
    order carries inside its own transaction only, until it takes its number."""
    return "~" + secrets.token_hex(REFERENCE_LENGTH)[: REFERENCE_LENGTH - 1]


def update_order(
    session: Session, order_id: int, changes: Mapping[str, Any], *, actor: Actor | None
) -> Order:
    """Change a draft's engagement number or note."""
    require_role(actor, ORDERERS, "change an order")
    unknown = sorted(set(changes) - ORDER_FIELDS)
    if unknown:
        raise ValueError(f"not order fields: {', '.join(unknown)}")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        order.ensure_editable()
        before = snapshot(order)
        for field, value in changes.items():
            setattr(order, field, (value or "").strip() if field == "note" else value)
        _record(session, actor, "order.updated", order, before=before, after=snapshot(order))
    return order


def add_order_line(
    session: Session,
    order_id: int,
    *,
    sku: str,
    quantity: Decimal,
    delivery_site: str = "",
    note: str = "",
    actor: Actor | None,
) -> OrderLine:
    """Add a product to a draft, at the prices in force on the order date."""
    require_role(actor, ORDERERS, "change an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        line = _add_line(
            session,
            order,
            LineInput(sku=sku, quantity=quantity, delivery_site=delivery_site, note=note),
            actor=actor,
        )
    return line


def _add_line(session: Session, order: Order, data: LineInput, *, actor: Actor | None) -> OrderLine:
    order.ensure_editable()
    product = orderable_products(session, [data.sku], order.order_date).get(data.sku)
    line = _place_line(session, order, data, product)
    session.flush()
    _record_new_line(session, line, actor=actor)
    return line


def _place_line(
    session: Session,
    order: Order,
    data: LineInput,
    product: OrderableProduct | None,
) -> OrderLine:
    """Add ``data`` to the draft at the product's prices on the order date, once the
    product (None for an unknown SKU) passes every rule of a new line."""
    order.ensure_editable()
    if product is None:
        raise ValidationFailed(f"no product {data.sku!r}", field="sku")
    if not product.active:
        raise ValidationFailed(f"{product.sku} is no longer offered", field="sku")
    ensure_member_in_domain(
        session, order.member_id, product.service_domain, order.order_date, field="sku"
    )
    markets.ensure_product_in_market(product, order.order_date, field="sku")
    if product.quote is None:
        raise ValidationFailed(NoPriceInForce(product.sku, order.order_date).message, field="sku")
    line = OrderLine.priced(
        product,
        quantity=data.quantity,
        position=order.next_position,
        delivery_site=data.delivery_site,
        note=data.note,
    )
    line.ensure_amounts_fit()
    order.lines.append(line)
    return line


def _record_new_line(session: Session, line: OrderLine, *, actor: Actor | None) -> None:
    """Audit a line just flushed."""
    record_changes(session, actor=actor, records=[_new_line_record(line)])


def _new_line_record(line: OrderLine) -> NewRecord:
    """The audit record of a line just flushed; a new line has no delivery nor
    subscription yet, which the session is told so that showing the line reads nothing
    more."""
    set_committed_value(line, "deliveries", [])
    set_committed_value(line, "subscription", None)
    return NewRecord("order_line.added", "order_line", line.id, after=snapshot(line))


def update_order_line(
    session: Session,
    order_id: int,
    line_id: int,
    changes: Mapping[str, Any],
    *,
    actor: Actor | None,
) -> OrderLine:
    """Change the quantity, delivery site or note of a draft's line; its prices stay."""
    require_role(actor, ORDERERS, "change an order")
    unknown = sorted(set(changes) - LINE_FIELDS)
    if unknown:
        raise ValueError(f"not order line fields: {', '.join(unknown)}")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        order.ensure_editable()
        line = _line_of(order, line_id)
        before = snapshot(line)
        for field, value in changes.items():
            setattr(line, field, value)
        line.ensure_amounts_fit()
        record_change(
            session,
            actor=actor,
            action="order_line.updated",
            entity="order_line",
            entity_id=line.id,
            before=before,
            after=snapshot(line),
        )
    return line


def remove_order_line(
    session: Session, order_id: int, line_id: int, *, actor: Actor | None
) -> None:
    """Take a line out of a draft."""
    require_role(actor, ORDERERS, "change an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        order.ensure_editable()
        line = _line_of(order, line_id)
        record_change(
            session,
            actor=actor,
            action="order_line.removed",
            entity="order_line",
            entity_id=line.id,
            before=snapshot(line),
        )
        order.lines.remove(line)


# --- Transitions ------------------------------------------------------------------------


def submit_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """Hand a draft to the centre; the member must be allowed to order today."""
    require_role(actor, ORDERERS, "submit an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        _submit(session, order, actor=actor)
    return order


def _submit(session: Session, order: Order, *, actor: Actor | None) -> None:
    before = snapshot(order)
    order.submit(by=actor_id(actor), at=utcnow())
    ensure_member_can_order(session, order.member_id, today_in_paris())
    _ensure_domains_joined(session, order, today_in_paris())
    _record(session, actor, "order.submitted", order, before=before, after=snapshot(order))


def return_order(session: Session, order_id: int, *, reason: str, actor: Actor | None) -> Order:
    """Send a submitted order back to the member as a draft, saying what to change."""
    require_role(actor, BUYERS, "return an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        before = snapshot(order)
        order.return_for_changes(reason=reason, by=actor_id(actor), at=utcnow())
        _record(session, actor, "order.returned", order, before=before, after=snapshot(order))
    return order


def approve_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """Accept a submitted order: one purchase order per supplier of its wholesaler lines.

    The member must still be allowed to order today, in the domains of its lines; the
    markets of the lines must be in force today, and their lots' yearly ceilings must take
    what the order commits (see :mod:`purchasing.orders.markets`). The purchase orders are
    numbered in the BCF series and wait to be sent (:func:`send_order`).
    """
    require_role(actor, BUYERS, "approve an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        before = snapshot(order)
        now = utcnow()
        today = today_in_paris()
        order.approve(by=actor_id(actor), at=now)
        ensure_member_can_order(session, order.member_id, today)
        _ensure_domains_joined(session, order, today)
        markets.commit_to_ceilings(session, order, on=today, actor=actor)
        _record(session, actor, "order.approved", order, before=before, after=snapshot(order))
        purchase_orders.issue_purchase_orders(session, order, on=today, actor=actor)
    return order


def send_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """Pass an approved order on to the suppliers: its purchase orders are sent."""
    require_role(actor, BUYERS, "send an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        before = snapshot(order)
        now = utcnow()
        order.mark_sent(by=actor_id(actor), at=now)
        _record(session, actor, "order.sent", order, before=before, after=snapshot(order))
        purchase_orders.send_purchase_orders(session, order, at=now, actor=actor)
    return order


def cancel_order(session: Session, order_id: int, *, reason: str, actor: Actor | None) -> Order:
    """Cancel an order not yet sent; an approved one's purchase orders are cancelled too.

    A member user cancels its own draft or submitted order; once the centre approved it,
    only the purchasing staff may.
    """
    require_role(actor, ORDERERS, "cancel an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        if actor is not None and actor.role is Role.MEMBER and order.status is OrderStatus.APPROVED:
            raise Conflict(
                "the centre approved this order: ask its purchasing staff to cancel it",
                field="status",
            )
        before = snapshot(order)
        now = utcnow()
        was_approved = order.status is OrderStatus.APPROVED
        order.cancel(reason=reason, by=actor_id(actor), at=now)
        _record(session, actor, "order.cancelled", order, before=before, after=snapshot(order))
        if was_approved:
            purchase_orders.cancel_purchase_orders(session, order, at=now, actor=actor)
            markets.release_commitments(session, order, at=now, actor=actor)
    return order


def close_order(session: Session, order_id: int, *, actor: Actor | None) -> Order:
    """Close a delivered order: nothing more is expected of it."""
    require_role(actor, BUYERS, "close an order")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        before = snapshot(order)
        order.close(by=actor_id(actor), at=utcnow())
        _record(session, actor, "order.closed", order, before=before, after=snapshot(order))
    return order


# --- Deliveries and commissioning -------------------------------------------------------


def record_delivery(
    session: Session,
    order_id: int,
    line_id: int,
    *,
    quantity: Decimal,
    delivered_on: date,
    actor: Actor | None,
) -> Delivery:
    """Record a delivery of (part of) a one-off line of a sent order.

    Never more than what is left to deliver. The order becomes partly delivered or
    delivered. A wholesaler line publishes ``order.line_delivered`` for billing.
    """
    require_role(actor, BUYERS, "record a delivery")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        order.ensure_deliverable()
        line = _line_of(order, line_id)
        before = snapshot(line)
        delivery = line.record_delivery(
            quantity=quantity, delivered_on=delivered_on, today=today_in_paris()
        )
        delivery.recorded_by_id = actor_id(actor)
        session.flush()
        record_change(
            session,
            actor=actor,
            action="order_line.delivered",
            entity="order_line",
            entity_id=line.id,
            before=before,
            after={**snapshot(line), "delivery": snapshot(delivery)},
        )
        if not line.contracted_directly_by_member:
            publish(
                session,
                "order.line_delivered",
                entity="delivery",
                entity_id=delivery.id,
                payload=_delivery_payload(order, line, delivery),
            )
        _follow_fulfilment(session, order, actor=actor)
    return delivery


def record_commissioning(
    session: Session,
    order_id: int,
    line_id: int,
    *,
    commissioned_on: date,
    actor: Actor | None,
) -> OrderLine:
    """Record the commissioning (mise en service) of a recurring line of a sent order.

    A wholesaler line becomes a subscription billed from that date, and its set-up fee,
    if any, falls due; an intermediary line only keeps the date, for follow-up.
    """
    require_role(actor, BUYERS, "record a commissioning")
    with transaction(session):
        order = _lock_order(session, order_id, actor=actor)
        order.ensure_deliverable()
        line = _line_of(order, line_id)
        before = snapshot(line)
        line.record_commissioning(commissioned_on=commissioned_on, today=today_in_paris())
        record_change(
            session,
            actor=actor,
            action="order_line.commissioned",
            entity="order_line",
            entity_id=line.id,
            before=before,
            after=snapshot(line),
        )
        if not line.contracted_directly_by_member:
            subscriptions.start_subscription(session, order, line, actor=actor)
        _follow_fulfilment(session, order, actor=actor)
    return line


def _ensure_domains_joined(session: Session, order: Order, on: date) -> None:
    """Refuse an order with a line of a domain the member is not in on ``on`` (its
    membership may have ended since the line was placed), naming the lines."""
    problems = []
    for line in order.lines:
        try:
            ensure_member_in_domain(
                session, order.member_id, line.product.family.service_domain, on, field="lines"
            )
        except ServiceDomainNotJoined as exc:
            problems.append(f"{line.sku}: {exc.message}")
    if problems:
        raise ValidationFailed(
            "the member has not joined the domain of every line", errors={"lines": problems}
        )


def _follow_fulfilment(session: Session, order: Order, *, actor: Actor | None) -> None:
    before = snapshot(order)
    if order.follow_fulfilment(at=utcnow()):
        _record(
            session,
            actor,
            f"order.{order.status.value}",
            order,
            before=before,
            after=snapshot(order),
        )


def _delivery_payload(order: Order, line: OrderLine, delivery: Delivery) -> dict[str, Any]:
    """What billing needs to invoice a delivery of a one-off wholesaler item."""
    return {
        "order_id": order.id,
        "order_reference": order.reference,
        "member_id": order.member_id,
        "engagement_number": order.engagement_number,
        "order_line_id": line.id,
        "delivery_id": delivery.id,
        "product_id": line.product_id,
        "sku": line.sku,
        "designation": line.designation,
        "delivered_on": delivery.delivered_on,
        "quantity": delivery.quantity,
        "unit_price": line.sale_price,
        "amount_excl_vat": line_amount(line.sale_price, delivery.quantity),
        "vat_rate": line.vat_rate,
        "sales_account": line.sales_account,
        "subsidy_eligible": line.subsidy_eligible,
        # For the invoice annex: the tariff's legal basis and the market it is bought under.
        "deliberation_reference": line.deliberation_reference,
        "deliberation_date": line.deliberation_date,
        "market_reference": line.market_reference,
    }


# --- Quote ------------------------------------------------------------------------------


def quote_of_order(
    session: Session, order_id: int, *, seller: Mapping[str, Any], actor: Actor | None
) -> Quote:
    """The quote (devis) of a draft or submitted order, as plain data for its PDF."""
    order = get_order(session, order_id, actor=actor)
    if order.status not in QUOTABLE_STATUSES:
        raise Conflict(
            f"order {order.reference} is {order.status.value}: "
            "a quote is made for a draft or submitted order only",
            field="status",
        )
    supplier_ids = {line.supplier_id for line in order.lines}
    supplier_names = dict(
        session.execute(select(Supplier.id, Supplier.name).where(Supplier.id.in_(supplier_ids)))
        .tuples()
        .all()
    )
    return build_quote(order, seller=seller, supplier_names=supplier_names)


def _record(
    session: Session,
    actor: Actor | None,
    action: str,
    order: Order,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity="order",
        entity_id=order.id,
        before=before,
        after=after,
    )
