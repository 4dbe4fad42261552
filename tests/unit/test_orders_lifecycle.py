"""The lifecycle tables of orders, purchase orders and supplier invoices, as pure rules."""

from __future__ import annotations

import itertools

import pytest

from purchasing.errors import InvalidTransition
from purchasing.orders.models import (
    ORDER_TRANSITIONS,
    PURCHASE_ORDER_TRANSITIONS,
    SUPPLIER_INVOICE_TRANSITIONS,
    OrderStatus,
    PurchaseOrderStatus,
    SupplierInvoiceStatus,
    check_order_transition,
)

S = OrderStatus

#: The order lifecycle of the issue, written out move by move.
ALLOWED = {
    (S.DRAFT, S.SUBMITTED),
    (S.DRAFT, S.CANCELLED),
    (S.SUBMITTED, S.APPROVED),
    (S.SUBMITTED, S.DRAFT),  # returned for changes
    (S.SUBMITTED, S.CANCELLED),
    (S.APPROVED, S.ORDERED),
    (S.APPROVED, S.CANCELLED),
    (S.ORDERED, S.PARTLY_DELIVERED),
    (S.ORDERED, S.DELIVERED),
    (S.PARTLY_DELIVERED, S.DELIVERED),
    (S.DELIVERED, S.CLOSED),
}


def test_the_table_is_exactly_the_lifecycle():
    table = {
        (current, target) for current, targets in ORDER_TRANSITIONS.items() for target in targets
    }
    assert table == ALLOWED
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_an_allowed_move_passes(current, target):
    check_order_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(OrderStatus, repeat=2) if pair not in ALLOWED],
)
def test_every_other_move_is_refused_naming_the_status(current, target):
    with pytest.raises(InvalidTransition) as refused:
        check_order_transition(current, target)
    assert refused.value.status_code == 409
    assert refused.value.errors == {
        "status": [f"order cannot go from '{current.value}' to '{target.value}'"]
    }


def test_an_order_cannot_be_cancelled_once_sent_to_the_suppliers():
    sent_or_later = {S.ORDERED, S.PARTLY_DELIVERED, S.DELIVERED, S.CLOSED}
    assert all(S.CANCELLED not in ORDER_TRANSITIONS[status] for status in sent_or_later)


def test_closed_and_cancelled_are_final():
    assert ORDER_TRANSITIONS[S.CLOSED] == ORDER_TRANSITIONS[S.CANCELLED] == frozenset()


def test_only_an_unsent_purchase_order_can_be_cancelled():
    P = PurchaseOrderStatus
    assert {s for s, targets in PURCHASE_ORDER_TRANSITIONS.items() if P.CANCELLED in targets} == {
        P.ISSUED
    }
    assert PURCHASE_ORDER_TRANSITIONS[P.ISSUED] == {P.SENT, P.CANCELLED}
    # Invoices recorded or rejected move a sent purchase order between these three.
    invoicing = {P.SENT, P.PARTLY_INVOICED, P.INVOICED}
    for status in invoicing:
        assert PURCHASE_ORDER_TRANSITIONS[status] == invoicing - {status}


def test_only_a_mismatch_awaits_a_decision():
    I = SupplierInvoiceStatus  # noqa: E741
    assert {
        I.MATCHED: frozenset(),
        I.MISMATCH: frozenset({I.ACCEPTED, I.REJECTED}),
        I.ACCEPTED: frozenset(),
        I.REJECTED: frozenset(),
    } == SUPPLIER_INVOICE_TRANSITIONS
