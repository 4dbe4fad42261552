"""Payments against invoices, their statuses, and the receivables with their ageing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.audit.models import AuditRecord
from purchasing.billing import services
from purchasing.billing.models import Payment, PaymentStatus
from purchasing.errors import ValidationFailed
from purchasing.events import DomainEvent
from tests.factories import make_member
from tests.factories.billing import billing_settings, make_issued_invoice

D = Decimal


@pytest.fixture
def invoice(session):
    """FA-2026-000001 of 2026-03-02, due 2026-04-01: 2 x 120.00 + 20 % = 288.00."""
    return make_issued_invoice(session)


def pay(session, invoice, amount, paid_on=date(2026, 3, 20), reference=""):
    return services.record_payment(
        session,
        invoice.id,
        amount=D(amount),
        paid_on=paid_on,
        reference=reference,
        recorded_by=None,
    )


def credit(session, invoice, amount=None, issue_date=date(2026, 3, 25)):
    lines = [services.CreditRequest(invoice.lines[0].id, D(amount))] if amount else None
    return services.create_credit_note(
        session,
        invoice.id,
        reason="Erreur de quantité",
        lines=lines,
        settings=billing_settings(),
        issued_by=None,
        issue_date=issue_date,
    )


def payment_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Payment))


def test_partial_payments_add_up_to_paid(session, invoice):
    assert (invoice.payment_status, invoice.outstanding) == (PaymentStatus.OPEN, D("288.00"))

    pay(session, invoice, "100.00", reference="Mandat 2026-0412")
    assert (invoice.payment_status, invoice.outstanding) == (
        PaymentStatus.PARTLY_PAID,
        D("188.00"),
    )

    pay(session, invoice, "188.00", paid_on=date(2026, 4, 2))
    assert (invoice.payment_status, invoice.amount_paid, invoice.outstanding) == (
        PaymentStatus.PAID,
        D("288.00"),
        D("0.00"),
    )
    assert [(p.amount, p.paid_on, p.reference) for p in invoice.payments] == [
        (D("100.00"), date(2026, 3, 20), "Mandat 2026-0412"),
        (D("188.00"), date(2026, 4, 2), ""),
    ]


def test_a_payment_beyond_what_is_owed_is_refused(session, invoice):
    pay(session, invoice, "200.00")

    with pytest.raises(services.PaymentExceedsBalance) as refused:
        pay(session, invoice, "88.01")

    assert refused.value.errors == {
        "amount": ["88.01 is more than the 88.00 still due on FA-2026-000001"]
    }
    assert payment_count(session) == 1
    assert (invoice.amount_paid, invoice.payment_status) == (
        D("200.00"),
        PaymentStatus.PARTLY_PAID,
    )


@pytest.mark.parametrize(
    ("amount", "paid_on", "field"),
    [
        ("0.00", date(2026, 3, 20), "amount"),
        ("10.00", date(2026, 3, 1), "paid_on"),  # the invoice is of 2026-03-02
        ("10.00", date(2999, 1, 1), "paid_on"),
    ],
    ids=["nothing", "before-the-invoice", "in-the-future"],
)
def test_a_refused_payment_names_the_field_and_records_nothing(
    session, invoice, amount, paid_on, field
):
    with pytest.raises(ValidationFailed) as refused:
        pay(session, invoice, amount, paid_on=paid_on)

    assert set(refused.value.errors) == {field}
    assert payment_count(session) == 0
    assert invoice.payment_status is PaymentStatus.OPEN


def test_a_credit_note_is_not_paid(session, invoice):
    note = credit(session, invoice, "10.00")

    with pytest.raises(services.NotAnInvoice) as refused:
        pay(session, note, "12.00", paid_on=date(2026, 3, 26))

    assert refused.value.errors == {
        "invoice_id": ["AV-2026-000001 is a credit note: only an invoice is paid"]
    }
    assert payment_count(session) == 0


def test_a_payment_publishes_its_event_and_audits_the_invoice(session, invoice):
    payment = pay(session, invoice, "288.00", reference="VIR DGFIP 123")

    event = session.scalar(select(DomainEvent).where(DomainEvent.kind == "payment.received"))
    assert event.entity_id == str(payment.id)
    assert event.payload == {
        "invoice_id": invoice.id,
        "invoice_number": "FA-2026-000001",
        "member_id": invoice.member_id,
        "amount": "288.00",
        "paid_on": "2026-03-20",
        "reference": "VIR DGFIP 123",
    }
    audit = session.scalar(select(AuditRecord).where(AuditRecord.action == "payment.recorded"))
    assert audit.before == {"amount_paid": "0.00", "status": "open"}
    assert audit.after == {"amount_paid": "288.00", "status": "paid"}


def test_a_credited_invoice_is_paid_for_what_is_left(session, invoice):
    credit(session, invoice, "40.00")  # 48.00 with VAT
    assert (invoice.outstanding, invoice.payment_status) == (D("240.00"), PaymentStatus.OPEN)

    with pytest.raises(services.PaymentExceedsBalance):
        pay(session, invoice, "288.00", paid_on=date(2026, 3, 26))
    pay(session, invoice, "240.00", paid_on=date(2026, 3, 26))

    assert (invoice.outstanding, invoice.payment_status) == (D("0.00"), PaymentStatus.PAID)


def test_a_credit_note_after_payment_leaves_a_sum_owed_to_the_member(session, invoice):
    pay(session, invoice, "288.00")

    credit(session, invoice, "40.00")

    assert (invoice.outstanding, invoice.payment_status) == (D("-48.00"), PaymentStatus.PAID)
    assert services.receivables(session, as_of=date(2026, 6, 30), actor=None).items == []


# --- Receivables --------------------------------------------------------------------------

AS_OF = date(2026, 9, 30)


@pytest.fixture
def ledger_of_invoices(session):
    """One unpaid invoice per ageing bucket on 2026-09-30 (each due 30 days after issue),
    plus invoices that were not owed that day, issued in the order their numbers require."""
    member, other = make_member(session), make_member(session)

    def issue(issue_date, price, who=member):
        return make_issued_invoice(
            session, member=who, issue_date=issue_date, price=price, quantity=1
        )

    invoices = {
        "over_90": issue(date(2026, 3, 2), "100.00"),  # due 04-01: 182 days late
        "paid_in_time": issue(date(2026, 4, 1), "500.00"),
        "61_90": issue(date(2026, 6, 15), "200.00", who=other),  # due 07-15: 77 days
        "31_60": issue(date(2026, 7, 10), "300.00"),  # due 08-09: 52 days
        "1_30": issue(date(2026, 8, 15), "400.00"),  # due 09-14: 16 days
        "not_due": issue(date(2026, 9, 15), "50.00"),  # due 10-15
        "issued_later": issue(date(2026, 10, 1), "70.00"),
    }
    pay(session, invoices["paid_in_time"], "600.00", paid_on=date(2026, 4, 20))
    pay(session, invoices["31_60"], "60.00", paid_on=date(2026, 8, 1))  # 360.00 - 60.00
    # Settled after the day of the report: still owed on that day.
    pay(session, invoices["1_30"], "480.00", paid_on=date(2026, 10, 5))
    credit(session, invoices["not_due"], issue_date=date(2026, 10, 6))
    return member, other, invoices


def test_receivables_on_a_day_by_ageing_bucket(session, ledger_of_invoices):
    _member, _other, invoices = ledger_of_invoices

    report = services.receivables(session, as_of=AS_OF, actor=None)

    rows = [
        (item.invoice.number, item.outstanding, item.days_overdue, item.bucket)
        for item in report.items
    ]
    assert rows == [  # oldest due date first
        (invoices["over_90"].number, D("120.00"), 182, "over_90"),
        (invoices["61_90"].number, D("240.00"), 77, "61_90"),
        (invoices["31_60"].number, D("300.00"), 52, "31_60"),
        (invoices["1_30"].number, D("480.00"), 16, "1_30"),
        (invoices["not_due"].number, D("60.00"), 0, "not_due"),
    ]
    assert report.totals == {
        "not_due": D("60.00"),
        "1_30": D("480.00"),
        "31_60": D("300.00"),
        "61_90": D("240.00"),
        "over_90": D("120.00"),
    }
    assert report.total == D("1200.00")


def test_receivables_later_leave_out_what_was_settled_meanwhile(session, ledger_of_invoices):
    _member, _other, invoices = ledger_of_invoices

    report = services.receivables(session, as_of=date(2026, 10, 31), actor=None)

    rows = [(item.invoice.number, item.bucket) for item in report.items]
    assert rows == [
        (invoices["over_90"].number, "over_90"),
        (invoices["61_90"].number, "over_90"),
        (invoices["31_60"].number, "61_90"),
        (invoices["issued_later"].number, "not_due"),
    ]
    assert report.totals == {
        "not_due": D("84.00"),
        "1_30": D("0.00"),
        "31_60": D("0.00"),
        "61_90": D("300.00"),
        "over_90": D("360.00"),
    }
    assert report.total == D("744.00")


def test_receivables_of_one_member(session, ledger_of_invoices):
    _member, other, invoices = ledger_of_invoices

    report = services.receivables(session, as_of=AS_OF, actor=None, member_id=other.id)

    assert [item.invoice.number for item in report.items] == [invoices["61_90"].number]
    assert report.total == D("240.00")
