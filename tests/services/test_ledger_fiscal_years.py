"""Fiscal years: opened explicitly or by their first posting, closed for good."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.errors import Conflict, NotFound
from purchasing.ledger import services
from purchasing.ledger.models import FiscalYear, FiscalYearStatus
from tests.factories import make_user
from tests.factories.ledger import entry_for, post_all, subsidy_received


@pytest.fixture
def finance(session):
    return make_user(session, role="finance")[0]


def test_a_first_posting_opens_its_year(session):
    subsidy_received(session, received_on=date(2026, 5, 4))

    post_all(session)

    (year,) = services.list_fiscal_years(session)
    assert (year.year, year.status, year.entries) == (2026, FiscalYearStatus.OPEN, 1)


def test_a_year_is_opened_once(session, finance):
    services.open_fiscal_year(session, 2027, actor=finance)

    with pytest.raises(Conflict, match="already exists"):
        services.open_fiscal_year(session, 2027, actor=finance)


def test_closing_a_year_records_who_and_when(session, finance):
    subsidy_received(session, received_on=date(2026, 5, 4))
    post_all(session)

    closed = services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))

    assert (closed.status, closed.closed_by_id) == (FiscalYearStatus.CLOSED, finance.id)
    assert closed.closed_at is not None
    record = session.scalars(
        select(AuditRecord).where(AuditRecord.action == "fiscal_year.closed")
    ).one()
    assert (record.entity_id, record.actor_id) == ("2026", finance.id)


def test_a_year_still_running_cannot_be_closed(session, finance):
    subsidy_received(session, received_on=date(2026, 5, 4))
    post_all(session)

    with pytest.raises(services.FiscalYearNotClosable, match="not over") as refused:
        services.close_fiscal_year(session, 2026, actor=finance, today=date(2026, 12, 31))

    assert list(refused.value.errors) == ["year"]
    assert "01/01/2027" in refused.value.message
    session.expire_all()
    assert session.get(FiscalYear, 2026).status is FiscalYearStatus.OPEN
    assert session.get(FiscalYear, 2027) is None
    # From the first day of the next year, it can.
    closed = services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 1))
    assert closed.status is FiscalYearStatus.CLOSED


def test_a_closed_year_takes_no_posting_and_the_event_stays_pending(session, finance):
    services.open_fiscal_year(session, 2026, actor=finance)
    services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))
    late = subsidy_received(session, received_on=date(2026, 12, 30))
    on_time = subsidy_received(session, received_on=date(2027, 1, 4))

    result = post_all(session)

    (refusal,) = result.refused
    assert refusal.event_id == late.id
    assert refusal.message == "fiscal year 2026 is closed: it takes no posting"
    assert refusal.errors == {"fiscal_year": [refusal.message]}
    assert (result.posted, result.pending) == (1, 1)
    assert entry_for(session, late) is None
    assert entry_for(session, on_time).fiscal_year == 2027


def test_a_year_before_a_closed_one_counts_as_closed(session, finance):
    services.open_fiscal_year(session, 2026, actor=finance)
    services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))
    subsidy_received(session, received_on=date(2025, 6, 1))

    (refusal,) = post_all(session).refused

    assert "fiscal year 2025 is closed (it precedes the closed year 2026)" in refusal.message
    with pytest.raises(services.FiscalYearClosed):
        services.open_fiscal_year(session, 2025, actor=finance)


def test_a_year_with_events_still_pending_cannot_close(session, finance):
    subsidy_received(session, received_on=date(2026, 3, 1))
    post_all(session)
    pending = subsidy_received(session, received_on=date(2026, 11, 1))
    subsidy_received(session, received_on=date(2027, 1, 2))  # another year's: no matter

    with pytest.raises(services.FiscalYearNotClosable) as refused:
        services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))

    assert refused.value.status_code == 409
    assert f"1 event(s) of 2026 are not posted yet (event {pending.id})" in refused.value.message
    assert session.get(FiscalYear, 2026).status is FiscalYearStatus.OPEN


def test_years_close_in_order(session, finance):
    services.open_fiscal_year(session, 2026, actor=finance)
    services.open_fiscal_year(session, 2027, actor=finance)

    with pytest.raises(services.FiscalYearNotClosable, match="close fiscal year 2026 first"):
        services.close_fiscal_year(session, 2027, actor=finance, today=date(2028, 1, 2))


def test_a_closed_year_is_never_reopened_and_the_service_says_why(session, finance):
    services.open_fiscal_year(session, 2026, actor=finance)
    services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))

    with pytest.raises(services.FiscalYearIsFinal, match="never reopened"):
        services.reopen_fiscal_year(session, 2026, actor=finance)
    with pytest.raises(Conflict, match="already closed"):
        services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))
    with pytest.raises(NotFound):
        services.close_fiscal_year(session, 2031, actor=finance, today=date(2032, 1, 2))
