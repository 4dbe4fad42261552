"""Transitions under real concurrency (PostgreSQL): the order row lock serialises them.

These tests commit in sessions of their own; the ``committed`` fixture (conftest.py)
removes what they committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.audit.models import AuditRecord
from purchasing.catalog.pricing import Billing
from purchasing.errors import InvalidTransition
from purchasing.orders import services
from purchasing.orders.models import Order, OrderLine, OrderStatus, PurchaseOrder
from purchasing.orders.services import LineInput
from tests.factories import make_member, make_order, make_product, make_supplier

pytestmark = pytest.mark.postgres


def test_approving_an_order_twice_at_once_issues_one_set_of_purchase_orders(committed):
    with Session(committed, expire_on_commit=False) as setup:
        lines = [make_product(setup, billing=Billing.ONE_OFF, supplier=make_supplier(setup))]
        lines.append(make_product(setup, billing=Billing.ONE_OFF, supplier=make_supplier(setup)))
        order_id = make_order(setup, lines=lines, status=OrderStatus.SUBMITTED).id

    start = threading.Barrier(2)

    def approve(_: int) -> str:
        with Session(committed) as session:
            start.wait()
            try:
                services.approve_order(session, order_id, actor=None)
            except InvalidTransition:
                return "refused"
            return "approved"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(approve, range(2)))

    assert outcomes == ["approved", "refused"]
    with Session(committed) as check:
        numbers = check.scalars(
            select(PurchaseOrder.number).where(PurchaseOrder.order_id == order_id)
        ).all()
    assert len(numbers) == 2  # one per supplier, once
    assert len(set(numbers)) == 2


def test_orders_placed_at_once_take_consecutive_cmd_numbers_each_audited_with_its_own(
    committed,
):
    with Session(committed, expire_on_commit=False) as setup:
        member_id = make_member(setup).id
        sku = make_product(setup, billing=Billing.ONE_OFF).sku
        setup.commit()

    start = threading.Barrier(6)

    def place(_: int) -> list[tuple[int, str]]:
        placed = []
        with Session(committed) as session:
            start.wait()
            for _ in range(5):
                order = services.create_order(
                    session,
                    actor=None,
                    member_id=member_id,
                    lines=[LineInput(sku=sku, quantity=Decimal("2"))],
                )
                placed.append((order.id, order.reference))
        return placed

    with ThreadPoolExecutor(max_workers=6) as pool:
        placed = dict(pair for batch in pool.map(place, range(6)) for pair in batch)

    assert len(placed) == 30
    numbers = sorted(int(reference.rsplit("-", 1)[1]) for reference in placed.values())
    assert numbers == list(range(numbers[0], numbers[0] + 30))  # no gap, no number twice
    with Session(committed) as check:
        stored = dict(
            check.execute(select(Order.id, Order.reference).where(Order.id.in_(list(placed)))).all()
        )
        created = dict(
            check.execute(
                select(AuditRecord.entity_id, AuditRecord.after).where(
                    AuditRecord.entity == "order",
                    AuditRecord.action == "order.created",
                    AuditRecord.entity_id.in_([str(order_id) for order_id in placed]),
                )
            ).all()
        )
        lines = check.scalar(
            select(func.count()).select_from(OrderLine).where(OrderLine.order_id.in_(list(placed)))
        )
    assert stored == placed  # the number the caller was given is the one committed
    assert {int(key): after["reference"] for key, after in created.items()} == placed
    assert lines == 30
