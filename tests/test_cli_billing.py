"""``centrale billing run``, run as an operator would (click's runner, real database)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from purchasing.billing.models import BillingRun, Invoice
from purchasing.catalog.pricing import Billing
from purchasing.cli import main
from tests.factories import make_member, make_order, make_product


@pytest.fixture
def centrale(app):
    runner = CliRunner()

    def invoke(*args: str):
        with app.app_context():
            return runner.invoke(
                main, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False
            )

    return invoke


@pytest.fixture
def delivered(session):
    """Three members, each with a one-off item delivered on 2026-02-01, not invoiced yet."""
    product = make_product(session, billing=Billing.ONE_OFF, cost="10.00", price="12.00")
    return [
        make_order(session, member=make_member(session), lines=[product], status="delivered")
        for _ in range(3)
    ]


def invoice_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Invoice))


def test_billing_run_shows_its_progress_and_what_it_issued(centrale, session, delivered):
    result = centrale("billing", "run", "2026-02", "--issue-date", "2026-03-02")

    assert result.exit_code == 0, result.output
    assert "Facturation 2026-02" in result.output
    assert "2026-02: 3 invoice(s) issued for 3 member(s) (run " in result.output
    numbers = session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
    assert numbers == ["FA-2026-000001", "FA-2026-000002", "FA-2026-000003"]


def test_billing_run_twice_issues_nothing_the_second_time(centrale, session, delivered):
    centrale("billing", "run", "2026-02", "--issue-date", "2026-03-02")

    again = centrale("billing", "run", "2026-02", "--issue-date", "2026-03-02")

    assert again.exit_code == 0, again.output
    assert "2026-02: 0 invoice(s) issued" in again.output
    assert "attempt 2" in again.output
    assert invoice_count(session) == 3


def test_billing_run_refuses_a_bad_period_and_changes_nothing(centrale, session, delivered):
    result = centrale("billing", "run", "2026-13")

    assert result.exit_code == 1
    assert "error: period: '2026-13' is not a month written YYYY-MM" in result.output
    assert "Facturation" not in result.output
    assert invoice_count(session) == 0
    assert session.scalar(select(func.count()).select_from(BillingRun)) == 0
