"""Year-end closing: the result to 120 or 129, the balance sheet carried into the next year."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from purchasing.audit.models import AuditRecord
from purchasing.billing import services as billing
from purchasing.catalog.pricing import Billing
from purchasing.events import DomainEvent
from purchasing.ledger import exports, reports, services
from purchasing.ledger.models import FiscalYear, FiscalYearStatus, JournalCode, JournalEntry
from tests.factories import invoice_in_full, make_order, make_product, make_supplier, make_user
from tests.factories.billing import make_issued_invoice
from tests.factories.catalog import make_account
from tests.factories.ledger import (
    fec_records,
    ledger_settings,
    lines_of,
    post_all,
    publish_event,
    subsidy_received,
)

D = Decimal
ZERO = D("0.00")
YEAR = exports.ExportScope.for_year(2026)


@pytest.fixture
def finance(session):
    return make_user(session, role="finance")[0]


def _purchase(session, *, cost: str = "100.00", quantity: int = 1, number: str = "HPN-0001"):
    supplier = make_supplier(session, code="HPN")
    product = make_product(session, supplier=supplier, billing=Billing.ONE_OFF, cost=cost)
    order = make_order(session, lines=[(product, quantity)], status="ordered")
    invoice_in_full(session, order.purchase_orders[0], number=number)


@pytest.fixture
def year_2026(session):
    """Sales of 240.00 (288.00 incl. VAT), 100.00 of it paid; purchases of 100.00 (120.00)."""
    invoice = make_issued_invoice(session)
    billing.record_payment(
        session, invoice.id, amount=D("100.00"), paid_on=date(2026, 4, 2), recorded_by=None
    )
    _purchase(session)
    assert post_all(session).posted == 3
    return invoice


def _balances(session, year: int) -> dict[str, Decimal]:
    lines = exports.trial_balance_lines(session, exports.ExportScope.for_year(year))
    return {line.account: line.balance for line in lines}


def _entries(session, year: int) -> list[JournalEntry]:
    return session.scalars(
        select(JournalEntry).where(JournalEntry.fiscal_year == year).order_by(JournalEntry.sequence)
    ).all()


class TestResult:
    def test_a_surplus_goes_to_120_on_the_last_day_in_the_last_entry(self, session, year_2026):
        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        *_operations, result = _entries(session, 2026)
        assert (result.journal, result.entry_date, result.sequence) == (
            JournalCode.CLOSING,
            date(2026, 12, 31),
            4,
        )
        assert lines_of(result) == [
            ("6042", None, ZERO, D("100.00")),
            ("7062", None, D("240.00"), ZERO),
            ("120", None, ZERO, D("140.00")),
        ]
        balances = _balances(session, 2026)
        assert balances["6042"] == balances["7062"] == 0
        assert balances["120"] == D("-140.00")  # a credit balance
        assert sum(balances.values()) == 0

    def test_a_deficit_goes_to_129(self, session):
        _purchase(session, cost="75.50")
        post_all(session)

        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        *_operations, result = _entries(session, 2026)
        assert lines_of(result) == [
            ("6042", None, ZERO, D("75.50")),
            ("129", None, D("75.50"), ZERO),
        ]
        (year,) = [y for y in services.list_fiscal_years(session) if y.year == 2026]
        assert year.result == D("-75.50")

    def test_the_years_figures_are_those_of_its_operations(self, session, year_2026):
        settings = ledger_settings()
        margins = reports.margin_report(session, YEAR, settings)

        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        assert reports.margin_report(session, YEAR, settings) == margins
        assert (margins.sales, margins.purchases) == (D("240.00"), D("100.00"))

    def test_the_closed_years_fec_ends_on_its_result(self, session, year_2026):
        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        records = fec_records(session, 2026)
        last = [r for r in records if r["EcritureNum"] == "EC-2026-000004"]
        assert records[-len(last) :] == last
        assert {(r["JournalCode"], r["JournalLib"], r["EcritureDate"]) for r in last} == {
            ("CL", "Clôture (détermination du résultat)", "20261231")
        }
        assert [(r["CompteNum"], r["Credit"]) for r in last][-1] == ("120", "140,00")


class TestOpening:
    def test_the_balance_sheet_is_carried_into_entry_0_of_the_next_year(self, session, year_2026):
        member = f"M{year_2026.member_id:05d}"

        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        (opening,) = _entries(session, 2027)
        assert (opening.number, opening.journal, opening.entry_date) == (
            "EC-2027-000000",
            JournalCode.OPENING,
            date(2027, 1, 1),
        )
        assert lines_of(opening) == [
            ("120", None, ZERO, D("140.00")),
            ("4011", "HPN", ZERO, D("120.00")),
            ("4111", member, D("188.00"), ZERO),
            ("44566", None, D("20.00"), ZERO),
            ("44571", None, ZERO, D("48.00")),
            ("515", None, D("100.00"), ZERO),
        ]
        # Open invoices are carried one by one, to be lettered with what pays them.
        assert [line.matching_reference for line in opening.lines][1:3] == [
            "HPN-0001",
            year_2026.number,
        ]

    def test_the_next_years_trial_balance_opens_on_the_closing_balances(self, session, year_2026):
        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        closing = {a: b for a, b in _balances(session, 2026).items() if b}
        assert _balances(session, 2027) == closing
        assert sum(closing.values()) == 0

    def test_the_next_years_fec_starts_with_its_opening_entry(self, session, year_2026):
        # A posting of 2027 already, as January's come before the closing of December.
        subsidy_received(session, amount="50.00", received_on=date(2027, 1, 10))
        post_all(session)

        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        records = fec_records(session, 2027)
        numbers = list(dict.fromkeys(r["EcritureNum"] for r in records))
        assert numbers == ["EC-2027-000000", "EC-2027-000001"]
        assert {r["JournalCode"] for r in records[:6]} == {"AN"}
        assert records[0]["EcritureDate"] == records[0]["PieceDate"] == "20270101"
        check = services.verify_ledger(session, fiscal_year=2027)
        assert check.ok and check.gaps == {}

    def test_closing_opens_the_next_year_and_says_what_it_wrote(self, session, year_2026):
        finance = make_user(session, role="finance")[0]

        services.close_fiscal_year(session, 2026, actor=finance, today=date(2027, 1, 2))

        assert session.get(FiscalYear, 2027).status is FiscalYearStatus.OPEN
        closed = services.year_end(session, 2026)
        assert (closed.result, closed.result_entry.number, closed.opening_entry.number) == (
            D("140.00"),
            "EC-2026-000004",
            "EC-2027-000000",
        )
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "fiscal_year.closed")
        ).one()
        assert (record.actor_id, record.after["result"]) == (finance.id, "140.00")
        assert record.after["opening_entry"] == "EC-2027-000000"

    def test_an_empty_year_closes_without_entries(self, session):
        services.open_fiscal_year(session, 2026, actor=None)

        services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        assert _entries(session, 2026) == _entries(session, 2027) == []
        assert services.year_end(session, 2026).result == 0


class TestRefusals:
    def _written(self, session) -> tuple[int, int, list[int]]:
        return (
            session.scalar(select(func.count(JournalEntry.id))),
            session.scalar(select(func.count(DomainEvent.id))),
            session.scalars(select(FiscalYear.year).order_by(FiscalYear.year)).all(),
        )

    def test_a_result_account_missing_from_the_chart_refuses_the_closing(self, session, year_2026):
        before = self._written(session)
        settings = ledger_settings()
        wrong = dataclasses.replace(
            settings, accounts=dataclasses.replace(settings.accounts, result_surplus="1201")
        )

        with pytest.raises(services.UnknownAccount, match="account 1201 is not in the chart"):
            services.close_fiscal_year(
                session, 2026, actor=None, settings=wrong, today=date(2027, 1, 2)
            )

        assert self._written(session) == before
        assert session.get(FiscalYear, 2026).status is FiscalYearStatus.OPEN

    def test_a_heading_of_the_chart_refuses_the_closing(self, session, year_2026):
        # Once 120 has a sub-account, it heads it: an entry posts to the sub-account.
        make_account(session, "1201", "Résultat de l'exercice (excédent) - budget annexe")
        before = self._written(session)

        with pytest.raises(services.UnknownAccount, match="account 120 is a heading"):
            services.close_fiscal_year(
                session, 2026, actor=None, settings=ledger_settings(), today=date(2027, 1, 2)
            )

        assert self._written(session) == before
        assert session.get(FiscalYear, 2026).status is FiscalYearStatus.OPEN

    def test_a_closing_that_fails_half_way_leaves_nothing_behind(self, session, year_2026):
        # Entry 0 of 2027 taken by hand: the opening entry, written after the result
        # entry, cannot be; the result entry must go with it.
        event = publish_event(session, "test.fault", {})
        session.add(FiscalYear(year=2027))
        session.flush()
        session.execute(
            insert(JournalEntry).values(
                fiscal_year=2027,
                sequence=0,
                entry_date=date(2027, 1, 1),
                journal=JournalCode.OPENING,
                document_reference="X",
                label="X",
                source_event_id=event.id,
                source_kind="test.fault",
                total=D("1.00"),
            )
        )
        session.commit()
        before = self._written(session)

        with pytest.raises(IntegrityError, match="sequence"):
            services.close_fiscal_year(session, 2026, actor=None, today=date(2027, 1, 2))

        assert self._written(session) == before
        assert session.get(FiscalYear, 2026).status is FiscalYearStatus.OPEN
        assert JournalCode.CLOSING not in {entry.journal for entry in _entries(session, 2026)}
