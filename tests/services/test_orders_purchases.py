"""Purchase orders and supplier invoices: numbering, matching, flags and decisions, the
``purchase.recorded`` event the ledger posts from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.catalog.pricing import Billing
from purchasing.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from purchasing.events import DomainEvent
from purchasing.fields import today_in_paris
from purchasing.orders import purchase_orders, subscriptions
from purchasing.orders.models import (
    OrderStatus,
    PurchaseOrderStatus,
    SupplierInvoice,
    SupplierInvoiceStatus,
)
from purchasing.orders.purchase_orders import InvoiceLineInput
from tests.factories import (
    invoice_in_full,
    make_order,
    make_product,
    make_supplier,
    make_user,
)
from tests.factories.catalog import make_account

D = Decimal
S = OrderStatus
P = PurchaseOrderStatus
I = SupplierInvoiceStatus  # noqa: E741


@pytest.fixture
def buyer(session):
    return make_user(session, role="purchasing")[0]


@pytest.fixture
def supplier(session):
    return make_supplier(session, name="Vigie Systèmes Vidéo")


@pytest.fixture
def cameras(session, supplier):
    """A sent order of 10 cameras at 480.00 and 2 recorders at 1450.00, one supplier."""
    camera = make_product(
        session,
        sku="CAM",
        supplier=supplier,
        billing=Billing.ONE_OFF,
        cost="480.00",
        purchase_account="6071",
        sales_account="7071",
    )
    recorder = make_product(
        session, sku="NVR", supplier=supplier, billing=Billing.ONE_OFF, cost="1450.00"
    )
    order = make_order(session, lines=[(camera, 10), (recorder, 2)], status=S.ORDERED)
    return order.purchase_orders[0]


def line(po_line, quantity, unit_cost=None, amount=None, vat_rate="0.2000", **period):
    unit_cost = D(unit_cost) if unit_cost is not None else po_line.unit_cost
    quantity = D(quantity)
    return InvoiceLineInput(
        purchase_order_line_id=po_line.id,
        quantity=quantity,
        unit_cost=unit_cost,
        amount=D(amount) if amount is not None else (unit_cost * quantity).quantize(D("0.01")),
        vat_rate=D(vat_rate),
        **period,
    )


def record(session, purchase_order, lines, *, number="F-1", actor=None, **totals):
    base = sum((line.amount for line in lines), D("0.00"))
    vat = (base * D("0.2")).quantize(D("0.01"))
    values = {"total_excl_vat": base, "total_vat": vat, "total_incl_vat": base + vat} | totals
    return purchase_orders.record_supplier_invoice(
        session,
        purchase_order_id=purchase_order.id,
        invoice_number=number,
        invoice_date=date(2026, 2, 10),
        lines=lines,
        actor=actor,
        **values,
    )


def purchases_recorded(session) -> list[DomainEvent]:
    query = (
        select(DomainEvent).where(DomainEvent.kind == "purchase.recorded").order_by(DomainEvent.id)
    )
    return list(session.scalars(query))


class TestPurchaseOrders:
    def test_one_per_supplier_in_a_series_of_their_own(self, session, supplier):
        other = make_supplier(session)
        a = make_product(session, supplier=supplier, billing=Billing.ONE_OFF)
        b = make_product(session, supplier=other, billing=Billing.ONE_OFF)
        c = make_product(session, supplier=supplier, billing=Billing.ONE_OFF)
        first = make_order(session, lines=[a, b, c], status=S.APPROVED)
        second = make_order(session, lines=[b], status=S.APPROVED)
        year = today_in_paris().year
        assert [(po.number, po.supplier_id, len(po.lines)) for po in first.purchase_orders] == [
            (f"BCF-{year}-000001", supplier.id, 2),
            (f"BCF-{year}-000002", other.id, 1),
        ]
        assert [po.number for po in second.purchase_orders] == [f"BCF-{year}-000003"]
        # Orders are numbered in their own series, untouched by purchase orders.
        assert second.reference.endswith("-000002")

    def test_issuing_is_audited_with_the_lines(self, session, cameras):
        record_ = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.entity == "purchase_order", AuditRecord.entity_id == str(cameras.id))
            .order_by(AuditRecord.id)
        ).first()
        assert record_.action == "purchase_order.issued"
        assert [po_line["amount"] for po_line in record_.after["lines"]] == ["4800.00", "2900.00"]

    def test_staff_read_them_members_never(self, session, cameras):
        finance = make_user(session, role="finance")[0]
        page = purchase_orders.list_purchase_orders(
            session, actor=finance, filters=purchase_orders.PurchaseOrderFilters(status=P.SENT)
        )
        assert [po.id for po in page.items] == [cameras.id]
        member_user = make_user(session, role="member")[0]
        with pytest.raises(PermissionDenied):
            purchase_orders.get_purchase_order(session, cameras.id, actor=member_user)


class TestRecording:
    def test_an_invoice_as_ordered_is_matched_and_booked(self, session, buyer, cameras):
        cam, nvr = cameras.lines
        invoice = record(
            session, cameras, [line(cam, 10), line(nvr, 2)], number="FV-2026-118", actor=buyer
        )
        assert invoice.status is I.MATCHED
        assert [il.mismatches for il in invoice.lines] == [[], []]
        assert cameras.status is P.INVOICED
        [event] = purchases_recorded(session)
        assert (event.entity, event.entity_id) == ("supplier_invoice", str(invoice.id))
        assert event.payload == {
            "supplier_invoice_id": invoice.id,
            "supplier_id": cameras.supplier_id,
            "invoice_number": "FV-2026-118",
            "invoice_date": "2026-02-10",
            "purchase_order_id": cameras.id,
            "purchase_order_number": cameras.number,
            "order_id": cameras.order_id,
            "member_id": cameras.order.member_id,
            "lines_by_account": [
                {"purchase_account": "6042", "amount_excl_vat": "2900.00"},
                {"purchase_account": "6071", "amount_excl_vat": "4800.00"},
            ],
            "vat_by_rate": [{"rate": "0.2000", "base": "7700.00", "vat": "1540.00"}],
            "total_excl_vat": "7700.00",
            "total_vat": "1540.00",
            "total_incl_vat": "9240.00",
            "mismatch_accepted": False,
        }

    def test_partial_invoices_add_up_to_invoiced(self, session, cameras):
        cam, nvr = cameras.lines
        record(session, cameras, [line(cam, 4)], number="F-1")
        assert cameras.status is P.PARTLY_INVOICED
        record(session, cameras, [line(cam, 6), line(nvr, 2)], number="F-2")
        assert cameras.status is P.INVOICED
        assert (cam.invoiced_quantity, cam.invoiced_amount) == (D(10), D("4800.00"))
        assert len(purchases_recorded(session)) == 2

    def test_over_invoicing_is_flagged_kept_out_of_the_books_and_stored(self, session, cameras):
        cam, _nvr = cameras.lines
        record(session, cameras, [line(cam, 8)], number="F-1")
        invoice = record(session, cameras, [line(cam, 3)], number="F-2")
        assert invoice.status is I.MISMATCH
        session.expire_all()
        stored = session.get(SupplierInvoice, invoice.id)
        assert stored.lines[0].mismatches == [
            "over-invoiced: 11 invoiced in all (8 on earlier invoices) for 10 ordered"
        ]
        assert len(purchases_recorded(session)) == 1  # the first invoice only

    def test_a_rejected_invoice_no_longer_counts(self, session, buyer, cameras):
        cam, nvr = cameras.lines
        wrong = record(
            session, cameras, [line(cam, 10, unit_cost="495.00"), line(nvr, 2)], number="F-1"
        )
        assert (wrong.status, cameras.status) == (I.MISMATCH, P.INVOICED)
        purchase_orders.reject_supplier_invoice(
            session, wrong.id, reason="Prix 2025 du marché", actor=buyer
        )
        assert (wrong.status, wrong.decision_reason, wrong.decided_by_id) == (
            I.REJECTED,
            "Prix 2025 du marché",
            buyer.id,
        )
        assert cameras.status is P.SENT
        corrected = record(session, cameras, [line(cam, 10), line(nvr, 2)], number="F-1-bis")
        assert corrected.status is I.MATCHED
        assert [e.payload["invoice_number"] for e in purchases_recorded(session)] == ["F-1-bis"]

    def test_only_a_mismatch_is_decided_and_with_a_reason(self, session, buyer, cameras):
        cam, _nvr = cameras.lines
        matched = record(session, cameras, [line(cam, 1)], number="F-1")
        with pytest.raises(InvalidTransition):
            purchase_orders.accept_supplier_invoice(session, matched.id, reason="x", actor=buyer)
        flagged = record(
            session,
            cameras,
            [line(cam, 1, vat_rate="0.1000")],
            number="F-2",
            total_vat=D("48.00"),
            total_incl_vat=D("528.00"),
        )
        assert flagged.lines[0].mismatches == ["VAT rate 0.1000 differs from the ordered 0.2000"]
        with pytest.raises(ValidationFailed) as refused:
            purchase_orders.accept_supplier_invoice(session, flagged.id, reason=" ", actor=buyer)
        assert list(refused.value.errors) == ["reason"]
        purchase_orders.accept_supplier_invoice(
            session, flagged.id, reason="Taux réduit justifié", actor=buyer
        )
        with pytest.raises(InvalidTransition):
            purchase_orders.reject_supplier_invoice(session, flagged.id, reason="x", actor=buyer)
        actions = session.scalars(
            select(AuditRecord.action)
            .where(
                AuditRecord.entity == "supplier_invoice", AuditRecord.entity_id == str(flagged.id)
            )
            .order_by(AuditRecord.id)
        ).all()
        assert actions == ["supplier_invoice.recorded", "supplier_invoice.accepted"]

    def test_an_invoice_that_does_not_add_up_is_refused(self, session, cameras):
        cam, _nvr = cameras.lines
        with pytest.raises(ValidationFailed) as refused:
            record(
                session,
                cameras,
                [line(cam, 1)],
                total_excl_vat=D("500.00"),
                total_vat=D("95.99"),
                total_incl_vat=D("600.00"),
            )
        assert refused.value.errors == {
            "total_excl_vat": ["the lines add up to 480.00"],
            "total_vat": [
                "VAT per rate on the lines comes to 96.00; ask the supplier for a corrected invoice"
            ],
            "total_incl_vat": ["total_excl_vat + total_vat comes to 595.99"],
        }
        assert session.scalar(select(func.count()).select_from(SupplierInvoice)) == 0

    def test_what_cannot_be_matched_is_refused_naming_the_line(self, session, cameras):
        cam, _nvr = cameras.lines
        elsewhere = make_order(
            session, lines=[make_product(session, billing=Billing.ONE_OFF)], status=S.ORDERED
        )
        foreign = elsewhere.purchase_orders[0].lines[0]
        with pytest.raises(ValidationFailed) as refused:
            record(
                session,
                cameras,
                [
                    line(cam, 1),
                    line(foreign, 1),
                    line(cam, 1, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28)),
                ],
            )
        assert refused.value.errors == {
            "lines[1].purchase_order_line_id": [f"not a line of purchase order {cameras.number}"],
            "lines[2].purchase_order_line_id": ["billed twice on this invoice"],
            "lines[2].period_start": ["a one-off item is not billed per period"],
        }

    def test_a_supplier_numbers_its_invoices_once(self, session, cameras):
        cam, nvr = cameras.lines
        first = record(session, cameras, [line(cam, 1)], number="F-1")
        with pytest.raises(Conflict) as refused:
            record(session, cameras, [line(nvr, 1)], number=" F-1 ")
        assert refused.value.errors == {
            "invoice_number": [f"invoice F-1 of this supplier is already recorded (id {first.id})"]
        }
        # Another supplier may use the same number.
        other = make_order(
            session, lines=[make_product(session, billing=Billing.ONE_OFF)], status=S.ORDERED
        )
        assert invoice_in_full(session, other.purchase_orders[0], number="F-1").status is I.MATCHED

    def test_an_unsent_purchase_order_takes_no_invoice(self, session):
        order = make_order(
            session, lines=[make_product(session, billing=Billing.ONE_OFF)], status=S.APPROVED
        )
        with pytest.raises(Conflict) as refused:
            invoice_in_full(session, order.purchase_orders[0])
        assert list(refused.value.errors) == ["purchase_order_id"]
        with pytest.raises(ValidationFailed):
            purchase_orders.record_supplier_invoice(
                session,
                purchase_order_id=999999,
                invoice_number="X",
                invoice_date=date(2026, 2, 1),
                lines=[],
                total_excl_vat=D(0),
                total_vat=D(0),
                total_incl_vat=D(0),
                actor=None,
            )

    def test_only_buyers_record_invoices(self, session, cameras):
        finance = make_user(session, role="finance")[0]
        with pytest.raises(PermissionDenied):
            record(session, cameras, [line(cameras.lines[0], 1)], actor=finance)


class TestRecurringItems:
    @pytest.fixture
    def service_po(self, session, supplier):
        """3 boxes at 30.00 a month with a 200.00 set-up fee each, commissioned 2026-02-01."""
        box = make_product(
            session,
            supplier=supplier,
            billing=Billing.MONTHLY,
            cost="30.00",
            setup_fee_cost="200.00",
        )
        order = make_order(
            session, lines=[(box, 3)], status=S.DELIVERED, delivered_on=date(2026, 2, 1)
        )
        return order.purchase_orders[0]

    FEB = {"period_start": date(2026, 2, 1), "period_end": date(2026, 2, 28)}
    MAR = {"period_start": date(2026, 3, 1), "period_end": date(2026, 3, 31)}

    def test_each_period_is_matched_on_its_own(self, session, service_po):
        box, fee = service_po.lines
        feb = record(session, service_po, [line(box, 3, **self.FEB), line(fee, 3)], number="F-02")
        mar = record(session, service_po, [line(box, 3, **self.MAR)], number="F-03")
        assert (feb.status, mar.status) == (I.MATCHED, I.MATCHED)
        assert service_po.status is P.INVOICED
        assert box.invoiced_quantity == D(6)  # two periods of three

    def test_a_period_invoiced_twice_or_out_of_service_is_flagged(self, session, service_po):
        box, _fee = service_po.lines
        record(session, service_po, [line(box, 3, **self.FEB)], number="F-02")
        twice = record(
            session,
            service_po,
            [line(box, 3, period_start=date(2026, 2, 15), period_end=date(2026, 3, 14))],
            number="F-02b",
        )
        assert twice.lines[0].mismatches == ["period already invoiced on supplier invoice F-02"]
        early = record(
            session,
            service_po,
            [line(box, 3, period_start=date(2026, 1, 1), period_end=date(2026, 1, 31))],
            number="F-01",
        )
        assert early.lines[0].mismatches == [
            "period outside the subscription (2026-02-01 to open-ended)"
        ]
        # F-02b, flagged but not rejected, still counts: April is the next free period.
        more = record(
            session,
            service_po,
            [line(box, 4, period_start=date(2026, 4, 1), period_end=date(2026, 4, 30))],
            number="F-04",
        )
        assert more.lines[0].mismatches == ["quantity 4 is more than the 3 in service"]

    def test_the_quantity_in_service_follows_the_subscription(self, session, service_po):
        box, _fee = service_po.lines
        subscription = box.order_line.subscription
        subscriptions.change_subscription_quantity(
            session, subscription.id, quantity=D(5), effective_from=date(2026, 3, 1), actor=None
        )
        assert (
            record(session, service_po, [line(box, 5, **self.MAR)], number="F-03").status
            is I.MATCHED
        )

    def test_a_period_is_required_for_a_recurring_item(self, session, service_po):
        box, _fee = service_po.lines
        with pytest.raises(ValidationFailed) as refused:
            record(
                session,
                service_po,
                [line(box, 3, period_start=date(2026, 2, 28), period_end=date(2026, 2, 1))],
            )
        assert refused.value.errors == {"lines[0].period_end": ["before period_start"]}
        with pytest.raises(ValidationFailed) as refused:
            record(session, service_po, [line(box, 3)])
        assert set(refused.value.errors) == {"lines[0].period_start", "lines[0].period_end"}

    def test_service_not_yet_commissioned_is_flagged(self, session, supplier):
        box = make_product(session, supplier=supplier, billing=Billing.YEARLY, cost="180.00")
        order = make_order(session, lines=[box], status=S.ORDERED)
        invoice = record(
            session,
            order.purchase_orders[0],
            [
                line(
                    order.purchase_orders[0].lines[0],
                    1,
                    period_start=date(2026, 1, 1),
                    period_end=date(2026, 12, 31),
                )
            ],
        )
        assert invoice.lines[0].mismatches == ["no commissioning recorded for this service"]


def test_listing_supplier_invoices_filters(session, cameras):
    cam, nvr = cameras.lines
    record(session, cameras, [line(cam, 1)], number="F-1")
    flagged = record(session, cameras, [line(nvr, 3)], number="F-2")
    page = purchase_orders.list_supplier_invoices(
        session, actor=None, filters=purchase_orders.SupplierInvoiceFilters(status=I.MISMATCH)
    )
    assert [invoice.id for invoice in page.items] == [flagged.id]
    assert purchase_orders.list_supplier_invoices(session, actor=None).total == 2


def test_accounts_are_taken_from_the_frozen_order_line(session, supplier):
    make_account(session, "6072")
    nas = make_product(session, supplier=supplier, billing=Billing.ONE_OFF, purchase_account="6072")
    order = make_order(session, lines=[nas], status=S.ORDERED)
    invoice_in_full(session, order.purchase_orders[0])
    [event] = purchases_recorded(session)
    assert event.payload["lines_by_account"] == [
        {"purchase_account": "6072", "amount_excl_vat": "100.00"}
    ]
