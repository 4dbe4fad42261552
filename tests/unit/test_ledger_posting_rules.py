"""The posting rules as pure functions: a payload in, a balanced entry out, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from purchasing.ledger.models import JournalCode
from purchasing.ledger.posting import (
    POSTED_KINDS,
    InvalidEventPayload,
    Party,
    draft_entry,
    entry_date_of,
)
from purchasing.ledger.settings import LedgerAccounts

D = Decimal
ACCOUNTS = LedgerAccounts(
    receivable="4111",
    payable="4011",
    vat_collected="44571",
    vat_deductible="44566",
    treasury="515",
    grant_receivable="441",
    operating_subsidy="7477",
    partner_reversal="6573",
    prior_year_cancellation="673",
    result_surplus="120",
    result_deficit="129",
)


@dataclass
class Directory:
    """What the rules may look up, held in dictionaries."""

    invoice_years: dict[int, int] = field(default_factory=dict)

    def member(self, member_id: int) -> Party:
        return Party(f"M{member_id:05d}", f"Commune {member_id}")

    def supplier(self, supplier_id: int) -> Party:
        return Party("VIGIE", "Vigie Systèmes")

    def family_sales_account(self, family_code: str) -> str | None:
        return {"mairie_connectee": "7062"}.get(family_code)

    def family_of_purchase_account(self, account: str) -> str | None:
        return {"6041": "video_protection"}.get(account)

    def invoice_year(self, invoice_id: int) -> int | None:
        return self.invoice_years.get(invoice_id)

    def invoice_number(self, invoice_id: int) -> str | None:
        year = self.invoice_years.get(invoice_id)
        return None if year is None else f"FA-{year}-{invoice_id:06d}"


def invoice(**overrides):
    return {
        "number": "FA-2026-000001",
        "issue_date": "2026-03-02",
        "member_id": 12,
        "corrected_invoice_id": None,
        "sales": [
            {"account": "7061", "family_code": "video_protection", "amount": "1000.00"},
            {"account": "7062", "family_code": "mairie_connectee", "amount": "50.00"},
        ],
        "vat": [
            {"rate": "0.2000", "base": "1000.00", "amount": "200.00"},
            {"rate": "0.0550", "base": "50.00", "amount": "2.75"},
        ],
        "total_gross": "1252.75",
        "total_aid": "0.00",
        "amount_due": "1252.75",
    } | overrides


def lines(entry):
    return [
        (line.account, line.party.number if line.party else None, line.debit, line.credit)
        for line in entry.lines
    ]


def test_the_ledger_posts_the_six_money_events():
    assert {
        "invoice.issued",
        "credit_note.issued",
        "purchase.recorded",
        "payment.received",
        "subsidy.received",
        "subsidy.reversed",
    } == POSTED_KINDS


def test_an_invoice_with_two_families_and_two_rates():
    entry = draft_entry("invoice.issued", invoice(), ACCOUNTS, Directory())

    assert lines(entry) == [
        ("4111", "M00012", D("1252.75"), D(0)),
        ("7061", None, D(0), D("1000.00")),
        ("7062", None, D(0), D("50.00")),
        ("44571", None, D(0), D("200.00")),
        ("44571", None, D(0), D("2.75")),
    ]
    assert [line.family_code for line in entry.lines[1:3]] == [
        "video_protection",
        "mairie_connectee",
    ]
    assert entry.total_debit == entry.total_credit == D("1252.75")
    assert (entry.journal, entry.entry_date, entry.reference) == (
        JournalCode.SALES,
        date(2026, 3, 2),
        "FA-2026-000001",
    )


def test_a_sales_line_without_account_takes_its_familys():
    payload = invoice(
        sales=[{"account": None, "family_code": "mairie_connectee", "amount": "1050.00"}]
    )
    entry = draft_entry("invoice.issued", payload, ACCOUNTS, Directory())
    assert entry.lines[1].account == "7062"


def test_a_sales_line_with_neither_account_nor_family_is_refused():
    payload = invoice(sales=[{"account": None, "family_code": None, "amount": "1050.00"}])
    with pytest.raises(InvalidEventPayload) as refused:
        draft_entry("invoice.issued", payload, ACCOUNTS, Directory())
    assert "sales[0].account" in refused.value.errors


def test_a_credit_note_of_the_same_year_reverses_the_sales():
    payload = invoice(number="AV-2026-000001", corrected_invoice_id=7)
    entry = draft_entry("credit_note.issued", payload, ACCOUNTS, Directory({7: 2026}))
    assert lines(entry)[:2] == [
        ("4111", "M00012", D(0), D("1252.75")),
        ("7061", None, D("1000.00"), D(0)),
    ]
    assert entry.label.startswith("Avoir AV-2026-000001")


def test_a_credit_note_on_an_earlier_years_invoice_is_a_cancelled_title():
    payload = invoice(number="AV-2026-000001", corrected_invoice_id=7)
    entry = draft_entry("credit_note.issued", payload, ACCOUNTS, Directory({7: 2025}))
    assert lines(entry) == [
        ("4111", "M00012", D(0), D("1252.75")),
        ("673", None, D("50.00"), D(0)),  # mairie_connectee, then video_protection
        ("673", None, D("1000.00"), D(0)),
        ("44571", None, D("200.00"), D(0)),
        ("44571", None, D("2.75"), D(0)),
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("total_gross", "1252.76", "is not the sum of its parts (1252.75)"),
        ("amount_due", "1000.00", "neither 0"),
        ("member_id", "12", "Not a valid integer."),
        ("issue_date", "02/03/2026", "Not a valid date."),
        ("total_gross", 1252.75, "send it as a string"),
    ],
)
def test_a_payload_that_does_not_add_up_is_refused_by_field(field, value, message):
    with pytest.raises(InvalidEventPayload) as refused:
        draft_entry("invoice.issued", invoice(**{field: value}), ACCOUNTS, Directory())
    assert any(message in text for text in refused.value.errors[field])
    assert refused.value.message.startswith("invoice.issued event cannot be posted: ")


def test_several_programmes_aid_one_invoice():
    payload = invoice(
        total_aid="300.00",
        amount_due="952.75",
        aid_by_programme=[
            {"programme_code": "FEDER-2024", "amount": "200.00"},
            {"programme_code": "REGION-2025", "amount": "100.00"},
        ],
    )
    entry = draft_entry("invoice.issued", payload, ACCOUNTS, Directory())
    assert lines(entry)[:3] == [
        ("4111", "M00012", D("952.75"), D(0)),
        ("441", "FEDER-2024", D("200.00"), D(0)),
        ("441", "REGION-2025", D("100.00"), D(0)),
    ]


def test_aid_by_programme_must_add_up_to_the_aid():
    payload = invoice(
        total_aid="300.00",
        amount_due="952.75",
        aid_by_programme=[{"programme_code": "FEDER-2024", "amount": "200.00"}],
    )
    with pytest.raises(InvalidEventPayload) as refused:
        draft_entry("invoice.issued", payload, ACCOUNTS, Directory())
    assert "total_aid" in refused.value.errors


def test_a_purchase_line_takes_its_family_for_the_margin_report():
    payload = {
        "supplier_id": 3,
        "invoice_number": "VS-77",
        "invoice_date": "2026-02-10",
        "purchase_order_number": "BCF-2026-000001",
        "lines_by_account": [
            {"purchase_account": "6041", "amount_excl_vat": "100.00"},
            {"purchase_account": "6071", "amount_excl_vat": "20.00"},
        ],
        "vat_by_rate": [{"rate": "0.2000", "base": "120.00", "vat": "24.00"}],
        "total_excl_vat": "120.00",
        "total_vat": "24.00",
        "total_incl_vat": "144.00",
    }
    entry = draft_entry("purchase.recorded", payload, ACCOUNTS, Directory())
    assert lines(entry) == [
        ("6041", None, D("100.00"), D(0)),
        ("6071", None, D("20.00"), D(0)),
        ("44566", None, D("24.00"), D(0)),
        ("4011", "VIGIE", D(0), D("144.00")),
    ]
    assert [line.family_code for line in entry.lines] == ["video_protection", None, None, None]
    assert entry.label == "Facture VS-77 - Vigie Systèmes (BCF-2026-000001)"


def test_a_reversal_names_the_partner_when_the_event_does():
    payload = {
        "programme_code": "FEDER-2024",
        "partner_code": "CDG59",
        "partner_name": "Centre de gestion du Nord",
        "amount": "100.00",
        "reversed_on": "2026-07-01",
    }
    entry = draft_entry("subsidy.reversed", payload, ACCOUNTS, Directory())
    assert entry.lines[0].party == Party("CDG59", "Centre de gestion du Nord")
    assert entry.reference == "FEDER-2024/CDG59"


def test_the_date_of_an_event_gives_its_fiscal_year():
    assert entry_date_of(
        "payment.received",
        {
            "invoice_number": "FA-2026-000001",
            "member_id": 1,
            "amount": "10.00",
            "paid_on": "2027-01-03",
        },
    ) == date(2027, 1, 3)


def test_zero_amounts_leave_nothing_to_post():
    payload = {"programme_code": "FEDER-2024", "amount": "0.00", "received_on": "2026-07-01"}
    assert draft_entry("subsidy.received", payload, ACCOUNTS, Directory()).is_empty


def test_an_event_the_ledger_does_not_post_is_a_programming_error():
    with pytest.raises(ValueError, match="does not post"):
        draft_entry("order.line_delivered", {}, ACCOUNTS, Directory())
