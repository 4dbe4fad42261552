"""Transitions under real concurrency (PostgreSQL): the order row lock serialises them.

These tests commit in sessions of their own; the ``committed`` fixture (conftest.py)
removes what they committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.catalog.pricing import Billing
from purchasing.errors import InvalidTransition
from purchasing.orders import services
from purchasing.orders.models import OrderStatus, PurchaseOrder
from tests.factories import make_order, make_product, make_supplier

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
