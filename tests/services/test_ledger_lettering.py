"""Lettering: an invoice and what settles it in full share a letter, and the FEC says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select

from purchasing.billing import services as billing
from purchasing.catalog.pricing import Billing
from purchasing.ledger import services
from purchasing.ledger.models import (
    JournalEntry,
    JournalLine,
    LedgerIsAppendOnly,
    LetteredLine,
    Lettering,
    lettering_code,
)
from tests.factories import invoice_in_full, make_order, make_product, make_supplier
from tests.factories.billing import billing_settings, make_issued_invoice
from tests.factories.ledger import fec_records, post_all

D = Decimal
#: The factory invoice: 2 x 120.00 at 20 %, issued on 2 March 2026.
DUE = D("288.00")


def _pay(session, invoice, amount: str, paid_on: date) -> None:
    billing.record_payment(session, invoice.id, amount=D(amount), paid_on=paid_on, recorded_by=None)


def _credit(session, invoice, *, net: str | None = None, on: date = date(2026, 3, 20)):
    """A credit note of the whole invoice, or of ``net`` (excl. VAT) on its first line."""
    lines = None if net is None else [billing.CreditRequest(invoice.lines[0].id, amount=D(net))]
    return billing.create_credit_note(
        session,
        invoice.id,
        reason="correction",
        lines=lines,
        settings=billing_settings(),
        issued_by=None,
        issue_date=on,
    )


def _receivable(records: list[dict[str, str]], reference: str | None = None):
    """The FEC records of members' accounts (those of ``reference``'s invoice, its payments
    and credit notes, if given): (journal, debit, credit, letter, date)."""
    return [
        (r["JournalCode"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"])
        for r in records
        if r["CompteNum"] == "4111" and (reference is None or reference in r["EcritureLib"])
    ]


def _assert_fec_lettering_rules(records: list[dict[str, str]]) -> None:
    """DateLet only with EcritureLet; each letter balances on one account and party."""
    sums: dict[tuple[str, str, str], Decimal] = {}
    for record in records:
        assert bool(record["EcritureLet"]) == bool(record["DateLet"]), record
        if record["EcritureLet"]:
            key = (record["EcritureLet"], record["CompteNum"], record["CompAuxNum"])
            amount = D(record["Debit"].replace(",", ".")) - D(record["Credit"].replace(",", "."))
            sums[key] = sums.get(key, D(0)) + amount
    assert all(total == 0 for total in sums.values()), sums


class TestSettlement:
    def test_a_paid_invoice_and_its_payment_share_a_letter_dated_on_the_payment(self, session):
        invoice = make_issued_invoice(session)
        _pay(session, invoice, "288.00", date(2026, 4, 2))

        post_all(session)

        records = fec_records(session, 2026)
        assert _receivable(records) == [
            ("VE", "288,00", "0,00", "A", "20260402"),
            ("BQ", "0,00", "288,00", "A", "20260402"),
        ]
        assert {r["EcritureLet"] for r in records if r["CompteNum"] != "4111"} == {""}
        _assert_fec_lettering_rules(records)

    def test_a_partly_paid_invoice_stays_open_until_the_last_payment(self, session):
        invoice = make_issued_invoice(session)
        _pay(session, invoice, "100.00", date(2026, 4, 2))
        post_all(session)

        assert {letter for *_, letter, _ in _receivable(fec_records(session, 2026))} == {""}

        _pay(session, invoice, "188.00", date(2026, 5, 4))
        post_all(session)

        records = fec_records(session, 2026)
        assert _receivable(records) == [
            ("VE", "288,00", "0,00", "A", "20260504"),
            ("BQ", "0,00", "100,00", "A", "20260504"),
            ("BQ", "0,00", "188,00", "A", "20260504"),
        ]
        _assert_fec_lettering_rules(records)

    def test_a_credit_note_settles_like_a_payment(self, session):
        invoice = make_issued_invoice(session)
        _credit(session, invoice, on=date(2026, 3, 20))

        post_all(session)

        assert _receivable(fec_records(session, 2026)) == [
            ("VE", "288,00", "0,00", "A", "20260320"),
            ("VE", "0,00", "288,00", "A", "20260320"),
        ]

    def test_a_partial_credit_note_and_a_payment_of_the_rest_settle_together(self, session):
        invoice = make_issued_invoice(session)
        _credit(session, invoice, net="120.00", on=date(2026, 3, 20))  # 144.00 incl. VAT
        post_all(session)
        assert {letter for *_, letter, _ in _receivable(fec_records(session, 2026))} == {""}

        _pay(session, invoice, "144.00", date(2026, 4, 10))
        post_all(session)

        assert _receivable(fec_records(session, 2026)) == [
            ("VE", "288,00", "0,00", "A", "20260410"),
            ("VE", "0,00", "144,00", "A", "20260410"),
            ("BQ", "0,00", "144,00", "A", "20260410"),
        ]

    def test_events_posted_together_letter_as_they_would_one_at_a_time(self, session):
        """An invoice paid in full, then partly credited: posted in one batch, the invoice
        and its payment letter when the payment is written, and the later credit note,
        which no longer balances anything, stays open."""
        invoice = make_issued_invoice(session)
        _pay(session, invoice, "288.00", date(2026, 4, 2))
        _credit(session, invoice, net="120.00", on=date(2026, 4, 3))  # 144.00 incl. VAT

        post_all(session)

        assert _receivable(fec_records(session, 2026)) == [
            ("VE", "288,00", "0,00", "A", "20260402"),
            ("BQ", "0,00", "288,00", "A", "20260402"),
            ("VE", "0,00", "144,00", "", ""),
        ]

    def test_each_invoice_gets_its_own_letter_in_the_order_it_is_settled(self, session):
        first = make_issued_invoice(session)
        second = make_issued_invoice(session)
        _pay(session, second, "288.00", date(2026, 4, 1))
        _pay(session, first, "100.00", date(2026, 4, 2))  # partly: first stays open
        post_all(session)
        _pay(session, first, "188.00", date(2026, 4, 3))
        post_all(session)

        records = fec_records(session, 2026)
        assert _receivable(records, second.number) == [
            ("VE", "288,00", "0,00", "A", "20260401"),
            ("BQ", "0,00", "288,00", "A", "20260401"),
        ]
        assert _receivable(records, first.number) == [
            ("VE", "288,00", "0,00", "B", "20260403"),
            ("BQ", "0,00", "100,00", "B", "20260403"),
            ("BQ", "0,00", "188,00", "B", "20260403"),
        ]
        _assert_fec_lettering_rules(records)

    def test_a_supplier_invoice_line_carries_its_number_for_lettering(self, session):
        supplier = make_supplier(session, code="HPN")
        product = make_product(session, supplier=supplier, billing=Billing.ONE_OFF, cost="100.00")
        order = make_order(session, lines=[(product, 3)], status="ordered")
        invoice_in_full(session, order.purchase_orders[0], number="HPN-2026-0007")

        post_all(session)

        payable = session.scalars(
            select(JournalLine).where(JournalLine.account_number == "4011")
        ).one()
        assert (payable.auxiliary_number, payable.matching_reference) == ("HPN", "HPN-2026-0007")
        # No supplier payment is recorded by any domain yet: the invoice stays open.
        assert session.scalar(select(LetteredLine.line_id)) is None


class TestAcrossYears:
    def test_an_invoice_paid_the_next_year_letters_with_its_opening_line(self, session):
        invoice = make_issued_invoice(
            session,
            issue_date=date(2025, 12, 1),
            order_date=date(2025, 10, 1),
            delivered_on=date(2025, 11, 3),
        )
        _pay(session, invoice, "288.00", date(2026, 1, 15))
        post_all(session)
        # Before 2025 closes, the payment of 2026 has nothing of its year to letter with.
        assert _receivable(fec_records(session, 2026)) == [("BQ", "0,00", "288,00", "", "")]

        services.close_fiscal_year(session, 2025, actor=None, today=date(2026, 1, 2))

        # 2025 closed with the invoice open: its FEC shows it so, for good.
        assert _receivable(fec_records(session, 2025)) == [("VE", "288,00", "0,00", "", "")]
        records = fec_records(session, 2026)
        assert _receivable(records) == [
            ("AN", "288,00", "0,00", "A", "20260115"),
            ("BQ", "0,00", "288,00", "A", "20260115"),
        ]
        assert records[0]["EcritureNum"] == "EC-2026-000000"
        _assert_fec_lettering_rules(records)


class TestCatchingUp:
    def test_books_posted_before_lettering_are_lettered_once(self, session):
        invoice = make_issued_invoice(session)
        _pay(session, invoice, "288.00", date(2026, 4, 2))
        post_all(session)
        # As books posted before lettering existed: no lettering at all.
        session.execute(delete(LetteredLine))
        session.execute(delete(Lettering))
        session.commit()

        assert services.letter_open_years(session, actor=None) == 1
        assert services.letter_open_years(session, actor=None) == 0

        assert {letter for *_, letter, _ in _receivable(fec_records(session, 2026))} == {"A"}


class TestGuards:
    def test_a_lettering_never_changes_nor_goes_away(self, session):
        invoice = make_issued_invoice(session)
        _pay(session, invoice, "288.00", date(2026, 4, 2))
        post_all(session)
        lettering = session.scalars(select(Lettering)).one()

        lettering.lettered_on = date(2026, 4, 3)
        with pytest.raises(LedgerIsAppendOnly):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(LetteredLine)).first())
        with pytest.raises(LedgerIsAppendOnly):
            session.flush()
        session.rollback()

    def test_the_check_finds_a_lettering_that_does_not_balance(self, session):
        make_issued_invoice(session)
        post_all(session)
        line = session.scalars(
            select(JournalLine).where(JournalLine.account_number == "4111")
        ).one()
        entry = session.get(JournalEntry, line.entry_id)
        lettering_id = session.execute(
            insert(Lettering)
            .values(
                fiscal_year=2026,
                sequence=1,
                account_number="4111",
                auxiliary_number=line.auxiliary_number,
                matching_reference=line.matching_reference,
                lettered_on=entry.entry_date,
            )
            .returning(Lettering.id)
        ).scalar_one()
        session.execute(insert(LetteredLine).values(line_id=line.id, lettering_id=lettering_id))

        check = services.verify_ledger(session)

        assert check.unbalanced_letterings == ("2026/A",)
        assert not check.ok


@pytest.mark.parametrize(
    ("sequence", "code"),
    [(1, "A"), (2, "B"), (26, "Z"), (27, "AA"), (52, "AZ"), (702, "ZZ"), (703, "AAA")],
)
def test_letter_codes_run_as_accountants_write_them(sequence, code):
    assert lettering_code(sequence) == code
