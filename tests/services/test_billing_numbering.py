"""Invoice numbers: per series and year, chronological, without gaps, taken at issue.

The last tests commit for real on PostgreSQL, many issuers at once; the ``committed``
fixture removes what they committed.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from purchasing.audit.models import AuditRecord
from purchasing.billing import run, services
from purchasing.billing.models import (
    BillingRun,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from purchasing.catalog.pricing import Billing
from purchasing.events import DomainEvent
from purchasing.numbering import NumberSequence
from purchasing.orders.models import Delivery
from tests.factories import make_member, make_order, make_product
from tests.factories.billing import ISSUE_DATE, billing_settings, make_issued_invoice

FEBRUARY = run.periods.month(2026, 2)


def delivered_order(session, member=None):
    """A member with a delivered one-off item (2026-02-01), not invoiced yet."""
    member = member or make_member(session)
    product = make_product(session, billing=Billing.ONE_OFF, cost="80.00", price="99.90")
    make_order(session, member=member, lines=[(product, 3)], status="delivered")
    return member


def invoice_member(session, member_id, issue_date=ISSUE_DATE):
    return run.invoice_member(
        session,
        member_id,
        FEBRUARY,
        settings=billing_settings(),
        issued_by=None,
        issue_date=issue_date,
    )


def count(session, entity, *where) -> int:
    return session.scalar(select(func.count()).select_from(entity).where(*where))


def test_numbers_follow_each_other_per_series_and_fiscal_year(session):
    first = make_issued_invoice(session)
    second = make_issued_invoice(session, issue_date=date(2026, 3, 2))
    next_year = make_issued_invoice(session, issue_date=date(2027, 1, 4))

    assert [first.number, second.number, next_year.number] == [
        "FA-2026-000001",
        "FA-2026-000002",
        "FA-2027-000001",
    ]
    assert (next_year.series, next_year.fiscal_year, next_year.sequence) == ("FA", 2027, 1)


def test_a_draft_has_no_number_until_it_is_issued(session):
    member = make_member(session)
    draft = Invoice(kind=DocumentKind.INVOICE, series="FA", member_id=member.id)
    draft.lines.append(
        InvoiceLine(
            position=1,
            designation="Audit de cybersécurité",
            unit="forfait",
            quantity=Decimal(1),
            unit_price=Decimal("1500.00"),
            vat_rate=Decimal("0.2000"),
            net_amount=Decimal("1500.00"),
            service_start=date(2026, 2, 10),
            service_end=date(2026, 2, 10),
        )
    )
    session.add(draft)
    session.commit()
    assert (draft.status, draft.number, draft.sequence) == (InvoiceStatus.DRAFT, None, None)

    services.issue_invoice(
        session, draft.id, settings=billing_settings(), issued_by=None, issue_date=ISSUE_DATE
    )

    assert (draft.status, draft.number) == (InvoiceStatus.ISSUED, "FA-2026-000001")
    assert draft.amount_due == Decimal("1800.00")


def test_a_number_never_goes_to_an_earlier_date(session):
    make_issued_invoice(session, issue_date=date(2026, 3, 2))
    member = delivered_order(session)

    with pytest.raises(services.IssueDateOutOfOrder) as refused:
        invoice_member(session, member.id, issue_date=date(2026, 3, 1))

    assert set(refused.value.errors) == {"issue_date"}
    assert count(session, Invoice) == 1
    (invoice,) = invoice_member(session, member.id, issue_date=date(2026, 3, 2))
    assert invoice.number == "FA-2026-000002"


def test_a_failure_while_issuing_leaves_no_half_issued_invoice_and_no_number(session):
    member = delivered_order(session)
    numbers_rendered = []

    def crash(documents):
        numbers_rendered.extend(document.number for document in documents)
        raise RuntimeError("WeasyPrint ran out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        run.invoice_members(
            session,
            [member.id],
            FEBRUARY,
            settings=billing_settings(),
            issued_by=None,
            issue_date=ISSUE_DATE,
            render=crash,
        )

    assert numbers_rendered == ["FA-2026-000001"]  # the number was taken, then the crash
    assert count(session, Invoice) == 0
    assert count(session, InvoiceLine) == 0
    assert count(session, NumberSequence, NumberSequence.series == "FA") == 0
    assert count(session, DomainEvent, DomainEvent.kind == "invoice.issued") == 0
    assert count(session, AuditRecord, AuditRecord.action == "invoice.issued") == 0
    assert count(session, Delivery, Delivery.billed_on.is_not(None)) == 0

    (invoice,) = invoice_member(session, member.id)
    assert invoice.number == "FA-2026-000001"


# --- Many issuers at once, on PostgreSQL ----------------------------------------------------


def _members_with_deliveries(engine: Engine, how_many: int) -> list[int]:
    with Session(engine, expire_on_commit=False) as setup:
        return [delivered_order(setup).id for _ in range(how_many)]


def _issued(engine: Engine) -> list[Invoice]:
    with Session(engine) as check:
        return check.scalars(
            select(Invoice)
            .where(Invoice.series == "FA", Invoice.fiscal_year == 2026)
            .order_by(Invoice.sequence)
        ).all()


@pytest.mark.postgres
def test_concurrent_issuers_share_the_series_without_gap_or_duplicate(committed):
    member_ids = _members_with_deliveries(committed, 24)
    start = threading.Barrier(8)

    def issue(chunk: list[int]) -> list[str]:
        start.wait()
        numbers = []
        for member_id in chunk:
            with Session(committed) as session:
                (invoice,) = invoice_member(session, member_id)
                numbers.append(invoice.number)
        return numbers

    with ThreadPoolExecutor(max_workers=8) as pool:
        returned = [
            n for chunk in pool.map(issue, [member_ids[i::8] for i in range(8)]) for n in chunk
        ]

    invoices = _issued(committed)
    assert [invoice.sequence for invoice in invoices] == list(range(1, 25))
    assert sorted(returned) == [invoice.number for invoice in invoices]
    assert sorted(invoice.member_id for invoice in invoices) == sorted(member_ids)


@pytest.mark.postgres
def test_concurrent_issuers_on_different_days_keep_numbers_chronological(committed):
    member_ids = _members_with_deliveries(committed, 16)
    days = [ISSUE_DATE + timedelta(days=n) for n in range(16)]
    random.Random(16).shuffle(days)
    start = threading.Barrier(8)

    def issue(index: int) -> str:
        start.wait()
        outcomes = []
        for member_id, day in list(zip(member_ids, days, strict=True))[index::8]:
            with Session(committed) as session:
                try:
                    invoice_member(session, member_id, issue_date=day)
                except services.IssueDateOutOfOrder:
                    outcomes.append("refused")
                else:
                    outcomes.append("issued")
        return outcomes

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [o for chunk in pool.map(issue, range(8)) for o in chunk]

    invoices = _issued(committed)
    # Whoever took a number for an earlier day than the series' last was refused, and
    # gave the number back: what was issued is numbered 1..n, in the order of its days.
    assert [invoice.sequence for invoice in invoices] == list(range(1, len(invoices) + 1))
    assert len(invoices) == outcomes.count("issued") >= 1
    issue_dates = [invoice.issue_date for invoice in invoices]
    assert issue_dates == sorted(issue_dates)


@pytest.mark.postgres
def test_billing_runs_of_a_period_started_at_once_invoice_each_member_once(committed):
    member_ids = _members_with_deliveries(committed, 12)
    runners, months = 4, [f"2026-{month:02d}" for month in range(2, 8)]

    def billing_run(period: str, start: threading.Barrier) -> int:
        with Session(committed) as session:
            session.connection()  # connected before the start, so the runs really race
            start.wait()
            result = run.run_billing(
                session, period, settings=billing_settings(), started_by=None, issue_date=ISSUE_DATE
            )
            return len(result.issued)

    issued = {}
    for period in months:  # February invoices everything; later months race on nothing
        start = threading.Barrier(runners)
        with ThreadPoolExecutor(max_workers=runners) as pool:
            issued[period] = sum(pool.map(billing_run, [period] * runners, [start] * runners))

    invoices = _issued(committed)
    assert issued == {period: 12 if period == "2026-02" else 0 for period in months}
    assert sorted(invoice.member_id for invoice in invoices) == sorted(member_ids)
    assert [invoice.sequence for invoice in invoices] == list(range(1, 13))
    with Session(committed) as check:
        runs = check.scalars(select(BillingRun).order_by(BillingRun.period)).all()
        assert [(r.period, r.attempts, r.invoices_issued, r.status.value) for r in runs] == [
            (period, runners, issued[period], "completed") for period in months
        ]
