"""Posting under real concurrency (PostgreSQL): runs at once post each event once, and a
year closed meanwhile takes nothing more.

These tests commit in sessions of their own, one per thread; the ``committed`` fixture
(conftest.py) removes what they committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from purchasing.ledger import services
from purchasing.ledger.models import JournalEntry
from tests.factories.ledger import ledger_settings, make_ledger_accounts, subsidy_received

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
                services.close_fiscal_year(session, 2031, actor=None)
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
