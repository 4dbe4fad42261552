"""Posting under real concurrency (PostgreSQL): runs at once post each event once, a year
closed meanwhile takes nothing more, and lettering across its closing misses nothing.

These tests commit in sessions of their own, one per thread; the ``committed`` fixture
(conftest.py) removes what they committed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.events import publish
from purchasing.ledger import services
from purchasing.ledger.models import JournalEntry, Lettering
from tests.factories import make_member
from tests.factories.catalog import make_account
from tests.factories.ledger import (
    ledger_settings,
    make_ledger_accounts,
    publish_event,
    subsidy_received,
)

pytestmark = pytest.mark.postgres

RUNS = 6
EVENTS = 60


def test_concurrent_runs_post_every_event_once_without_a_gap(committed):
    with Session(committed, expire_on_commit=False) as setup:
        make_ledger_accounts(setup)
        events = [
            subsidy_received(setup, amount=f"{n}.00", received_on=date(2026, 3, 1))
            for n in range(1, EVENTS + 1)
        ]
    start = threading.Barrier(RUNS)

    def post(_run: int) -> services.PostingResult:
        with Session(committed, expire_on_commit=False) as session:
            start.wait()
            return services.post_pending_events(session, settings=ledger_settings(), posted_by=None)

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        results = list(pool.map(post, range(RUNS)))

    assert sum(result.posted for result in results) == EVENTS
    assert all(result.refused == () for result in results)
    with Session(committed) as check:
        ids = [event.id for event in events]
        sequences = check.scalars(
            select(JournalEntry.sequence)
            .where(JournalEntry.source_event_id.in_(ids))
            .order_by(JournalEntry.sequence)
        ).all()
        first = sequences[0]
        assert sequences == list(range(first, first + EVENTS))
        assert services.verify_ledger(check, fiscal_year=2026).ok


def test_a_year_closed_while_runs_post_takes_nothing_after_its_close(committed):
    with Session(committed, expire_on_commit=False) as setup:
        make_ledger_accounts(setup)
        for n in range(1, EVENTS + 1):
            subsidy_received(setup, amount=f"{n}.00", received_on=date(2031, 3, 1))
    start = threading.Barrier(2)

    def post() -> services.PostingResult:
        with Session(committed, expire_on_commit=False) as session:
            start.wait()
            return services.post_pending_events(session, settings=ledger_settings(), posted_by=None)

    def close() -> str:
        with Session(committed, expire_on_commit=False) as session:
            services.open_fiscal_year(session, 2031, actor=None)
            start.wait()
            try:
                services.close_fiscal_year(session, 2031, actor=None, today=date(2032, 1, 2))
            except services.FiscalYearNotClosable:
                return "refused"  # events were still pending: the close said so
            return "closed"

    with ThreadPoolExecutor(max_workers=2) as pool:
        posting, closing = pool.submit(post), pool.submit(close)
        result, outcome = posting.result(), closing.result()

    with Session(committed) as check:
        posted = check.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.fiscal_year == 2031)
        )
    assert posted == result.posted
    if outcome == "closed":  # only possible once every event of 2031 was posted
        assert posted == EVENTS
    else:
        assert posted + len(result.refused) <= EVENTS


def _invoice(member_id: int, n: int) -> dict:
    return {
        "kind": "invoice",
        "number": f"FA-2033-{n:06d}",
        "issue_date": "2033-06-01",
        "member_id": member_id,
        "corrected_invoice_id": None,
        "sales": [{"account": "7061", "family_code": None, "amount": "100.00"}],
        "vat": [{"rate": "0.2000", "base": "100.00", "amount": "20.00"}],
        "total_gross": "120.00",
        "total_aid": "0.00",
        "amount_due": "120.00",
    }


def test_payments_posted_while_the_year_before_closes_letter_with_its_opening_entry(committed):
    """Whichever comes first, each 2034 payment of a 2033 invoice ends up lettered with
    that invoice's line in the opening entry of 2034, and the books check."""
    with Session(committed, expire_on_commit=False) as setup:
        make_ledger_accounts(setup)
        make_account(setup, "7061")
        member = make_member(setup)
        for n in range(1, EVENTS + 1):
            publish_event(setup, "invoice.issued", _invoice(member.id, n), entity_id=n)
        services.post_pending_events(setup, settings=ledger_settings(), posted_by=None)
        for n in range(1, EVENTS + 1):
            publish_event(
                setup,
                "payment.received",
                {
                    "invoice_number": f"FA-2033-{n:06d}",
                    "member_id": member.id,
                    "amount": "120.00",
                    "paid_on": "2034-01-10",
                    "reference": f"VIR-{n}",
                },
                entity="payment",
                entity_id=n,
            )
    start = threading.Barrier(2)

    def post() -> services.PostingResult:
        with Session(committed, expire_on_commit=False) as session:
            start.wait()
            return services.post_pending_events(session, settings=ledger_settings(), posted_by=None)

    def close() -> None:
        with Session(committed, expire_on_commit=False) as session:
            start.wait()
            services.close_fiscal_year(
                session, 2033, actor=None, settings=ledger_settings(), today=date(2034, 1, 2)
            )

    with ThreadPoolExecutor(max_workers=2) as pool:
        posting, closing = pool.submit(post), pool.submit(close)
        result, _closed = posting.result(), closing.result()

    assert (result.posted, result.refused) == (EVENTS, ())
    with Session(committed) as check:
        letterings = check.scalars(select(Lettering).where(Lettering.fiscal_year == 2034)).all()
        assert len(letterings) == EVENTS
        assert all(len(lettering.lines) == 2 for lettering in letterings)
        assert {lettering.lettered_on for lettering in letterings} == {date(2034, 1, 10)}
        verified = services.verify_ledger(check, fiscal_year=2034)
        assert verified.ok, verified


def test_a_follower_posts_each_event_published_while_it_runs_once(committed):
    """An issuer commits events one after another while a follower posts beside it, then
    publishes a last group and stops the follower at once: each is posted once, the last
    group by the pass the stop asks for."""
    with Session(committed, expire_on_commit=False) as setup:
        make_ledger_accounts(setup)
    stop = threading.Event()
    results: list[services.PostingResult] = []

    def follow() -> None:
        with Session(committed, expire_on_commit=False) as session:
            results.append(
                services.follow_pending_events(
                    session, settings=ledger_settings(), posted_by=None, stop=stop, interval=5
                )
            )

    follower = threading.Thread(target=follow)
    follower.start()
    with Session(committed, expire_on_commit=False) as issuer:
        events = [
            subsidy_received(issuer, amount=f"{n}.00", received_on=date(2026, 3, 1))
            for n in range(1, EVENTS // 2 + 1)
        ]
        for _ in range(500):  # posted while the follower runs, not at its stop
            if _posted(committed, events) == len(events):
                break
            time.sleep(0.02)
        assert _posted(committed, events) == len(events)
        time.sleep(0.2)  # the follower now waits on an empty outbox
        # The last group in one transaction, so that it appears at once.
        events += [
            publish(
                issuer,
                "subsidy.received",
                entity="subsidy_receipt",
                entity_id=n,
                payload={
                    "programme_id": 1,
                    "programme_code": "FEDER-2024",
                    "amount": f"{n}.00",
                    "received_on": "2026-03-01",
                    "reference": f"VIR-{n:04d}",
                },
            )
            for n in range(EVENTS // 2 + 1, EVENTS + 1)
        ]
        issuer.commit()
    stop.set()
    follower.join(timeout=60)

    assert not follower.is_alive()
    assert (results[0].posted, results[0].pending) == (EVENTS, 0)
    assert _posted(committed, events) == EVENTS


def _posted(engine, events) -> int:
    with Session(engine) as check:
        return check.scalar(
            select(func.count(func.distinct(JournalEntry.source_event_id))).where(
                JournalEntry.source_event_id.in_([event.id for event in events])
            )
        )
