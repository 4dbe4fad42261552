"""The envelope under real concurrency (PostgreSQL): many issuers at once never overspend it.

These tests commit in sessions of their own, one per thread; the ``committed`` fixture
(conftest.py) removes what they committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.events import DomainEvent
from purchasing.members.models import Member
from purchasing.subsidies import services
from purchasing.subsidies.models import SubsidyConsumption, SubsidyProgramme
from tests.factories import (
    aid_request,
    make_draft_invoice,
    make_member,
    make_product,
    make_programme,
)
from tests.factories.subsidies import AID_DATE

pytestmark = pytest.mark.postgres

D = Decimal
WORKERS = 8
INVOICES_PER_WORKER = 5


def test_concurrent_issuers_consume_the_envelope_exactly_and_never_more(committed):
    with Session(committed, expire_on_commit=False) as setup:
        product = make_product(setup, subsidy_eligible=True)
        programme = make_programme(setup, products=[product], envelope="10.00")
        members = [make_member(setup, population=500) for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def issue(worker: int) -> list[services.AidAllocation]:
        allocations = []
        with Session(committed, expire_on_commit=False) as session:
            member = session.get(Member, members[worker].id)
            start.wait()
            for _ in range(INVOICES_PER_WORKER):
                invoice = make_draft_invoice(session, member)
                # Each invoice asks 1.50 + 0.55: forty of them ask 82.00 of an envelope of 10.00.
                allocations.append(
                    services.allocate_aid(
                        session,
                        invoice_id=invoice.id,
                        member_id=member.id,
                        on=AID_DATE,
                        lines=[aid_request(1, product, "3.00"), aid_request(2, product, "1.10")],
                    )
                )
                session.commit()
        return allocations

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        allocations = [a for chunk in pool.map(issue, range(WORKERS)) for a in chunk]

    granted = [grant.amount for allocation in allocations for grant in allocation.grants]
    assert sum(granted) == D("10.00")
    assert all(amount > 0 for amount in granted)
    assert [a.exhausted for a in allocations if a.exhausted] == [[programme.code]]
    with Session(committed) as check:
        assert check.get(SubsidyProgramme, programme.id).consumed == D("10.00")
        assert check.scalar(
            select(func.sum(SubsidyConsumption.amount)).where(
                SubsidyConsumption.programme_id == programme.id
            )
        ) == D("10.00")
        assert (
            check.scalar(
                select(func.count()).where(
                    DomainEvent.kind == "subsidy.envelope_exhausted",
                    DomainEvent.entity_id == str(programme.id),
                )
            )
            == 1
        )


def test_credit_notes_and_invoices_at_once_keep_consumed_the_sum_of_its_movements(committed):
    with Session(committed, expire_on_commit=False) as setup:
        product = make_product(setup, subsidy_eligible=True)
        programme = make_programme(setup, products=[product], envelope="20.00")
        member = make_member(setup, population=500)
        # Ten invoices of 2.00 of aid each exhaust the envelope.
        invoices = []
        for _ in range(10):
            invoice = make_draft_invoice(setup, member)
            services.allocate_aid(
                setup,
                invoice_id=invoice.id,
                member_id=member.id,
                on=AID_DATE,
                lines=[aid_request(1, product, "4.00")],
            )
            setup.commit()
            invoices.append(invoice)
    start = threading.Barrier(WORKERS)

    def work(worker: int) -> Decimal:
        """Even workers credit an invoice wholly, odd ones issue new invoices asking 2.00."""
        moved = D("0.00")
        with Session(committed, expire_on_commit=False) as session:
            me = session.get(Member, member.id)
            start.wait()
            for round_ in range(2):
                if worker % 2 == 0:
                    invoice = invoices[worker // 2 * 2 + round_]
                    note = make_draft_invoice(session, me, corrects=invoice)
                    grants = services.give_back_aid(
                        session,
                        credit_note_id=note.id,
                        corrected_invoice_id=invoice.id,
                        credited=[(1, D("4.00"))],
                        on=AID_DATE,
                    )
                    moved -= sum((grant.amount for grant in grants), D(0))
                else:
                    invoice = make_draft_invoice(session, me)
                    allocation = services.allocate_aid(
                        session,
                        invoice_id=invoice.id,
                        member_id=me.id,
                        on=AID_DATE,
                        lines=[aid_request(1, product, "4.00")],
                    )
                    moved += sum((grant.amount for grant in allocation.grants), D(0))
                session.commit()
        return moved

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        moved = sum(pool.map(work, range(WORKERS)), D(0))

    with Session(committed) as check:
        consumed = check.get(SubsidyProgramme, programme.id).consumed
        movements = check.scalar(
            select(func.sum(SubsidyConsumption.amount)).where(
                SubsidyConsumption.programme_id == programme.id
            )
        )
    assert consumed == movements == D("20.00") + moved
    assert D(0) <= consumed <= D("20.00")
    # Eight invoices credited give back 16.00; eight new ones can take at most that.
    assert moved <= 0
