"""A lot's yearly ceiling under real concurrency (PostgreSQL): the lot row lock serialises
approvals, so two orders that each fit but together pass the ceiling cannot both be approved.

These tests commit in sessions of their own; the ``committed`` fixture (conftest.py)
removes what they committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from purchasing.catalog.pricing import Billing
from purchasing.orders import services
from purchasing.orders.markets import CeilingExceeded
from purchasing.orders.models import MarketLotCommitment, OrderStatus, PurchaseOrder
from tests.factories import make_member, make_order, make_product
from tests.factories.catalog import make_lot

pytestmark = pytest.mark.postgres


def test_two_approvals_at_once_cannot_both_pass_a_ceiling(committed):
    with Session(committed, expire_on_commit=False) as setup:
        lot = make_lot(setup, yearly_ceiling="1000.00")
        item = make_product(setup, lot=lot, billing=Billing.ONE_OFF, cost="100.00")
        member = make_member(setup)
        order_ids = [
            make_order(setup, member=member, lines=[(item, 6)], status=OrderStatus.SUBMITTED).id
            for _ in range(2)
        ]

    start = threading.Barrier(2)

    def approve(order_id: int) -> str:
        with Session(committed) as session:
            start.wait()
            try:
                services.approve_order(session, order_id, actor=None)
            except CeilingExceeded as refused:
                assert (refused.consumed, refused.this_order) == (Decimal("600.00"),) * 2
                return "refused"
            return "approved"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(approve, order_ids))

    assert outcomes == ["approved", "refused"]
    with Session(committed) as check:
        committed_amounts = check.scalars(
            select(MarketLotCommitment.amount).where(MarketLotCommitment.lot_id == lot.id)
        ).all()
        purchase_orders = check.scalars(
            select(PurchaseOrder.order_id).where(PurchaseOrder.order_id.in_(order_ids))
        ).all()
    assert committed_amounts == [Decimal("600.00")]
    assert len(purchase_orders) == 1
