"""Transitions under real concurrency (PostgreSQL): the order row lock serialises them.

These tests commit in sessions of their own, then delete what they committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from purchasing.catalog.pricing import Billing
from purchasing.errors import InvalidTransition
from purchasing.models import metadata
from purchasing.numbering import NumberSequence
from purchasing.orders import services
from purchasing.orders.models import OrderStatus, PurchaseOrder
from tests.factories import make_order, make_product, make_supplier

pytestmark = pytest.mark.postgres


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The engine; every row committed through it during the test is deleted afterwards."""
    tables = [table for table in metadata.sorted_tables if "id" in table.c]
    with engine.connect() as conn:
        watermarks = {
            table: conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) for table in tables
        }
        sequences = set(conn.execute(select(NumberSequence.series, NumberSequence.fiscal_year)))
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(delete(table).where(table.c.id > watermarks[table]))
            for series, year in (
                set(conn.execute(select(NumberSequence.series, NumberSequence.fiscal_year)))
                - sequences
            ):
                conn.execute(
                    delete(NumberSequence).where(
                        NumberSequence.series == series, NumberSequence.fiscal_year == year
                    )
                )


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
