"""Subscriptions: recurring wholesaler items in service, billed per period by billing.

A subscription starts when its order line is commissioned (:func:`start_subscription`,
called inside the commissioning's transaction). Its prices are the line's, frozen on the
order date; its quantity may change from a date on, and it ends on the last day billed
when terminated. Billing reads :meth:`Subscription.quantity_segments` to prorate a
period, and :func:`subscriptions_in_force` to find what a billing run covers.

Events, for billing (none concerns the ledger, which posts invoices, not subscriptions):

- ``subscription.started`` — with the one-off set-up fee due at commissioning, if any;
- ``subscription.quantity_changed``;
- ``subscription.terminated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from purchasing.audit.services import record_change, snapshot
from purchasing.auth.roles import Actor, visible_to
from purchasing.db import utcnow
from purchasing.errors import NotFound
from purchasing.events import publish
from purchasing.fields import today_in_paris
from purchasing.members.services import ensure_member_can_order, ensure_member_in_domain
from purchasing.orders import markets
from purchasing.orders.models import Order, OrderLine, Subscription
from purchasing.orders.roles import BUYERS, actor_id, require_role
from purchasing.unit_of_work import Page, paginate, transaction

__all__ = [
    "SubscriptionFilters",
    "change_subscription_quantity",
    "get_subscription",
    "list_subscriptions",
    "start_subscription",
    "subscriptions_in_force",
    "terminate_subscription",
]


@dataclass(frozen=True)
class SubscriptionFilters:
    #: Staff only: a member user's list is always its own member's.
    member_id: int | None = None
    #: Only the subscriptions in service on that day.
    active_on: date | None = None


def start_subscription(
    session: Session, order: Order, line: OrderLine, *, actor: Actor | None
) -> Subscription:
    """The subscription of a commissioned wholesaler line, inside the caller's transaction."""
    subscription = Subscription.for_line(line, member_id=order.member_id)
    session.add(subscription)
    session.flush()
    _record(session, actor, "subscription.started", subscription, after=_snapshot(subscription))
    publish(
        session,
        "subscription.started",
        entity="subscription",
        entity_id=subscription.id,
        payload={
            "subscription_id": subscription.id,
            "member_id": subscription.member_id,
            "order_id": order.id,
            "order_reference": order.reference,
            "engagement_number": order.engagement_number,
            "order_line_id": line.id,
            "product_id": line.product_id,
            "sku": line.sku,
            "designation": line.designation,
            "start_date": subscription.start_date,
            "billing_period": subscription.billing_period,
            "quantity": line.quantity,
            "unit_price": subscription.unit_price,
            "vat_rate": subscription.vat_rate,
            "sales_account": line.sales_account,
            "subsidy_eligible": subscription.subsidy_eligible,
            # The one-off set-up fee, due on the start date (None without one).
            "setup_fee_price": line.setup_fee_price,
            "setup_fee_amount": line.setup_fee_amount,
            # For the invoice annex: the tariff's legal basis and its market.
            "deliberation_reference": line.deliberation_reference,
            "deliberation_date": line.deliberation_date,
            "market_reference": line.market_reference,
        },
    )
    return subscription


def _visible(actor: Actor | None) -> Any:
    query = select(Subscription).options(selectinload(Subscription.quantities))
    return visible_to(actor, query, Subscription.member_id)


def get_subscription(
    session: Session, subscription_id: int, *, actor: Actor | None
) -> Subscription:
    """The subscription, if the actor may see it: a member user sees only its member's."""
    subscription = session.scalar(_visible(actor).where(Subscription.id == subscription_id))
    if subscription is None:
        raise NotFound(f"no subscription with id {subscription_id}", field="subscription_id")
    return subscription


def list_subscriptions(
    session: Session,
    *,
    actor: Actor | None,
    filters: SubscriptionFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Subscription]:
    """Subscriptions, most recent first; a member user gets only its member's."""
    filters = filters or SubscriptionFilters()
    query = _visible(actor)
    if filters.member_id is not None:
        query = query.where(Subscription.member_id == filters.member_id)
    if filters.active_on is not None:
        query = query.where(_in_force_between(filters.active_on, filters.active_on))
    query = query.options(selectinload(Subscription.order_line)).order_by(
        Subscription.start_date.desc(), Subscription.id.desc()
    )
    return paginate(session, query, page=page, per_page=per_page)


def subscriptions_in_force(session: Session, *, first: date, last: date) -> list[Subscription]:
    """Every subscription in service on at least one day from ``first`` to ``last``.

    For billing runs: each comes with its quantity history and order line loaded.
    """
    query = (
        select(Subscription)
        .where(_in_force_between(first, last))
        .options(selectinload(Subscription.quantities), selectinload(Subscription.order_line))
        .order_by(Subscription.member_id, Subscription.id)
    )
    return list(session.scalars(query))


def _in_force_between(first: date, last: date) -> Any:
    return (Subscription.start_date <= last) & or_(
        Subscription.end_date.is_(None), Subscription.end_date >= first
    )


def terminate_subscription(
    session: Session, subscription_id: int, *, end_date: date, actor: Actor | None
) -> Subscription:
    """End a subscription: ``end_date`` is the last day billed (not before its start)."""
    require_role(actor, BUYERS, "terminate a subscription")
    with transaction(session):
        subscription = _lock(session, subscription_id, actor=actor)
        before = _snapshot(subscription)
        subscription.terminate(end_date=end_date, by=actor_id(actor), at=utcnow())
        _record(
            session,
            actor,
            "subscription.terminated",
            subscription,
            before=before,
            after=_snapshot(subscription),
        )
        publish(
            session,
            "subscription.terminated",
            entity="subscription",
            entity_id=subscription.id,
            payload={
                "subscription_id": subscription.id,
                "member_id": subscription.member_id,
                "end_date": end_date,
            },
        )
    return subscription


def change_subscription_quantity(
    session: Session,
    subscription_id: int,
    *,
    quantity: Decimal,
    effective_from: date,
    actor: Actor | None,
) -> Subscription:
    """Change the quantity from ``effective_from`` on, a day within the subscription.

    More units are bought as an order's are: the member's adhesion must be active today
    and it must have joined the item's service domain on ``effective_from``; the market
    lot of the order line must be in force on ``effective_from`` and today, and its yearly
    ceiling must take what the added units commit, which is then recorded
    (:func:`~purchasing.orders.markets.commit_added_quantity`). A lower quantity only
    reduces what is billed: it is never refused by those rules.
    """
    require_role(actor, BUYERS, "change a subscription")
    with transaction(session):
        subscription = _lock(session, subscription_id, actor=actor)
        before = _snapshot(subscription)
        in_force = subscription.quantity_on(effective_from)
        subscription.change_quantity(quantity=quantity, effective_from=effective_from)
        added = subscription.quantity_on(effective_from) - in_force
        if added > 0:
            _ensure_may_take_more(session, subscription, effective_from)
            markets.commit_added_quantity(
                session,
                subscription,
                added=added,
                effective_from=effective_from,
                on=today_in_paris(),
                actor=actor,
            )
        session.flush()
        _record(
            session,
            actor,
            "subscription.quantity_changed",
            subscription,
            before=before,
            after=_snapshot(subscription),
        )
        publish(
            session,
            "subscription.quantity_changed",
            entity="subscription",
            entity_id=subscription.id,
            payload={
                "subscription_id": subscription.id,
                "member_id": subscription.member_id,
                "effective_from": effective_from,
                "quantity": subscription.quantity_on(effective_from),
            },
        )
    return subscription


def _ensure_may_take_more(
    session: Session, subscription: Subscription, effective_from: date
) -> None:
    """The member may order today, in the item's service domain from ``effective_from``."""
    ensure_member_can_order(session, subscription.member_id, today_in_paris())
    ensure_member_in_domain(
        session,
        subscription.member_id,
        subscription.order_line.product.family.service_domain,
        effective_from,
        field="effective_from",
    )


def _lock(session: Session, subscription_id: int, *, actor: Actor | None) -> Subscription:
    subscription = session.scalar(
        _visible(actor)
        .where(Subscription.id == subscription_id)
        .with_for_update(of=Subscription)
        .execution_options(populate_existing=True)
    )
    if subscription is None:
        raise NotFound(f"no subscription with id {subscription_id}", field="subscription_id")
    return subscription


def _snapshot(subscription: Subscription) -> dict[str, Any]:
    """The subscription's columns and its quantity history, for the audit trail."""
    return {
        **snapshot(subscription),
        "quantities": [
            {"effective_from": day.isoformat(), "quantity": str(quantity)}
            for day, quantity in subscription.history
        ],
    }


def _record(
    session: Session,
    actor: Actor | None,
    action: str,
    subscription: Subscription,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity="subscription",
        entity_id=subscription.id,
        before=before,
        after=after,
    )
