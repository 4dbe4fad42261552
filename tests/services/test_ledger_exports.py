"""The auditors' files, re-read as an auditor's tool would: FEC, CSV, XLSX and PDF."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from purchasing.billing import services as billing
from purchasing.catalog.pricing import Billing
from purchasing.errors import ValidationFailed
from purchasing.ledger import exports
from purchasing.ledger.exports import ExportScope
from purchasing.ledger.pdf import PDF_MAX_LINES, ReportTooLongForPdf, report_pdf_chunks
from tests.factories import invoice_in_full, make_member, make_order, make_product, make_supplier
from tests.factories.billing import billing_settings, make_issued_invoice
from tests.factories.ledger import ledger_settings, post_all, subsidy_received, subsidy_reversed

D = Decimal
YEAR = ExportScope.for_year(2026)


@pytest.fixture
def books(session):
    """A small year: an invoice, a credit note, a payment, a purchase, a grant passed on."""
    member = make_member(session, name="Commune d'Hondschoote")
    invoice = make_issued_invoice(session, member=member, price="120.00", quantity=2)
    billing.create_credit_note(
        session,
        invoice.id,
        reason="une licence de trop",
        lines=[billing.CreditRequest(invoice.lines[0].id, amount=D("120.00"))],
        settings=billing_settings(),
        issued_by=None,
        issue_date=invoice.issue_date,
    )
    billing.record_payment(
        session,
        invoice.id,
        amount=D("144.00"),
        paid_on=date(2026, 4, 2),
        reference="VIR\t42",  # a tab in a value must not break the FEC's columns
        recorded_by=None,
    )
    supplier = make_supplier(session, code="HPN", name="Hauts-de-France Prestations Numériques")
    product = make_product(session, supplier=supplier, billing=Billing.ONE_OFF, cost="100.00")
    order = make_order(session, lines=[(product, 3)], status="ordered")
    invoice_in_full(session, order.purchase_orders[0], number="HPN-2026-0007")
    subsidy_received(session, amount="500.00", received_on=date(2026, 6, 1))
    subsidy_reversed(session, amount="200.00", reversed_on=date(2026, 7, 1))
    result = post_all(session)
    assert (result.posted, result.pending) == (6, 0)
    return session


def _read(chunks) -> bytes:
    return b"".join(chunks)


def _amount(text: str) -> Decimal:
    return D(text.replace(",", "."))


class TestFec:
    def _records(self, session) -> list[list[str]]:
        data = _read(exports.fec_chunks(session, YEAR, ledger_settings()))
        text = data.decode("iso-8859-15")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))

    def test_header_is_the_18_standard_fields(self, books):
        header, *_ = self._records(books)
        assert header == [
            "JournalCode",
            "JournalLib",
            "EcritureNum",
            "EcritureDate",
            "CompteNum",
            "CompteLib",
            "CompAuxNum",
            "CompAuxLib",
            "PieceRef",
            "PieceDate",
            "EcritureLib",
            "Debit",
            "Credit",
            "EcritureLet",
            "DateLet",
            "ValidDate",
            "Montantdevise",
            "Idevise",
        ]

    def test_every_record_is_well_formed(self, books):
        _header, *records = self._records(books)
        assert len(records) == 3 + 3 + 2 + 3 + 2 + 4
        for record in records:
            fields = dict(zip(exports.FEC_COLUMNS, record, strict=True))
            for name in ("EcritureDate", "PieceDate", "ValidDate"):
                assert re.fullmatch(r"2026\d{4}|2027\d{4}", fields[name]), (name, record)
            for name in ("Debit", "Credit"):
                assert re.fullmatch(r"\d+,\d{2}", fields[name]), (name, record)
            assert (_amount(fields["Debit"]) == 0) != (_amount(fields["Credit"]) == 0)
            assert fields["JournalCode"] in {"VE", "AC", "BQ", "OD"}
            assert re.fullmatch(r"EC-2026-\d{6}", fields["EcritureNum"])
            assert fields["CompteLib"]
            assert fields["Montantdevise"] == fields["Idevise"] == ""

    def test_each_entry_balances_and_numbers_follow_each_other(self, books):
        _header, *records = self._records(books)
        sums: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
        for record in records:
            sums[record[2]][0] += _amount(record[11])
            sums[record[2]][1] += _amount(record[12])
        assert all(debit == credit for debit, credit in sums.values())
        assert list(sums) == [f"EC-2026-{n:06d}" for n in range(1, 7)]

    def test_totals_per_account_match_the_trial_balance(self, books):
        _header, *records = self._records(books)
        per_account: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
        for record in records:
            per_account[record[4]][0] += _amount(record[11])
            per_account[record[4]][1] += _amount(record[12])
        balance = exports.trial_balance_lines(books, YEAR)
        assert {line.account: [line.debit, line.credit] for line in balance} == per_account
        assert sum(line.debit for line in balance) == sum(line.credit for line in balance)

    def test_texts_stay_in_their_columns_and_in_iso_8859_15(self, books):
        _header, *records = self._records(books)
        payment = next(r for r in records if r[0] == "BQ" and r[4] == "515" and "VIR" in r[8])
        assert payment[8] == "VIR 42"
        supplier = next(r for r in records if r[6] == "HPN")
        assert supplier[7] == "Hauts-de-France Prestations Numériques"
        member = next(r for r in records if r[6].startswith("M"))
        assert member[7] == "Commune d'Hondschoote"
        assert {r[5] for r in records if r[4] == "4111"} == {"Clients amiable"}

    def test_the_file_is_named_after_the_siren_and_the_closing_date(self):
        assert exports.fec_filename(ledger_settings(), YEAR) == "255900128FEC20261231.txt"

    def test_a_date_range_exports_only_its_entries(self, books):
        scope = ExportScope.between(date(2026, 6, 1), date(2026, 7, 31))
        data = _read(exports.fec_chunks(books, scope, ledger_settings())).decode("iso-8859-15")
        _header, *records = list(csv.reader(io.StringIO(data, newline=""), delimiter="\t"))
        assert {r[8] for r in records} == {"VIR-0001", "MANDAT-0001"}

    def test_a_range_across_a_year_end_is_refused_on_its_end(self):
        # It would count the balances carried by the opening entry a second time.
        with pytest.raises(ValidationFailed, match="within one fiscal year") as refused:
            ExportScope.between(date(2026, 12, 1), date(2027, 1, 31))
        assert list(refused.value.errors) == ["date_to"]
        assert ExportScope.between(date(2026, 1, 1), date(2026, 12, 31)).date_to.year == 2026


class TestText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Clients \u2013 amiable", "Clients - amiable"),  # en dash
            ("Commune d\u2019Ypres", "Commune d'Ypres"),  # typographic apostrophe
            ("a\tb\r\nc", "a b  c"),
            ("Łódź", "?ódz"),  # ź loses its accent; Ł has no plain form
            ("€ œ Ÿ", "€ œ Ÿ"),
            ("FA-2026-000123", "FA-2026-000123"),
            (None, ""),
        ],
    )
    def test_values_are_made_fit_for_the_fec(self, text, expected):
        assert exports.fec_text(text) == expected

    @pytest.mark.parametrize(
        ("moment", "day"),
        [
            # Winter (UTC+1) and summer (UTC+2): late evening in UTC is the next Paris day.
            (datetime(2026, 3, 28, 22, 59, tzinfo=UTC), "20260328"),
            (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "20260329"),
            (datetime(2026, 10, 24, 21, 59, tzinfo=UTC), "20261024"),
            (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), "20261025"),
            # The night of the change to winter time: 01:00 UTC is 02:00 Paris again.
            (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "20261025"),
            (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "20270101"),
        ],
    )
    def test_validation_dates_are_paris_days(self, moment, day):
        assert exports._paris_day(moment) == day


class TestReports:
    def test_the_journal_as_csv_re_reads_to_the_lines_posted(self, books):
        data = _read(exports.csv_chunks(exports.journal(books, YEAR))).decode("utf-8")
        header, *rows = list(csv.reader(io.StringIO(data, newline=""), delimiter=";"))
        assert header[:3] == ["Écriture", "Date", "Journal"]
        assert len(rows) == 17  # lines only: no total row in CSV
        assert sum(D(r[9]) for r in rows) == sum(D(r[10]) for r in rows)
        assert rows[0][1] == "2026-03-02"
        assert all(re.fullmatch(r"\d+\.\d{2}", r[9]) for r in rows)

    def test_the_general_ledger_runs_each_accounts_balance(self, books):
        rows = list(exports.general_ledger(books, YEAR).rows)
        receivable = [row.values for row in rows if row.values[0] == "4111"]
        # invoice 288.00, credit note 144.00, payment 144.00: settled
        assert [(v[8], v[9], v[10]) for v in receivable] == [
            (D("288.00"), D("0.00"), D("288.00")),
            (D("0.00"), D("144.00"), D("144.00")),
            (D("0.00"), D("144.00"), D("0.00")),
            (D("288.00"), D("288.00"), D("0.00")),  # the account's total
        ]
        assert [row.total for row in rows if row.values[0] == "4111"] == [False] * 3 + [True]

    def test_the_trial_balance_sums_to_zero_with_totals_per_class(self, books):
        rows = list(exports.trial_balance(books, YEAR).rows)
        total = rows[-1].values
        assert total[1] == "Total général"
        assert total[2] == total[3]
        assert total[4] == total[5]
        assert "Total classe 4" in [row.values[1] for row in rows if row.total]

    def test_a_label_a_spreadsheet_would_run_opens_as_text(self):
        columns = (exports.Column("Libellé", "text"), exports.Column("Montant", "amount"))
        rows = [
            exports.Row(('=HYPERLINK("http://x")', D("-12.00"))),
            exports.Row(("@SUM(A1)", D("1.00"))),
            exports.Row(("-1+1", D("2.00"))),
            exports.Row(("Commune d'Ypres", D("3.00"))),
        ]
        report = exports.Report(
            name="journal",
            title="Journal",
            scope=YEAR,
            columns=columns,
            rows=iter(rows),
            line_count=len(rows),
        )

        data = _read(exports.csv_chunks(report)).decode("utf-8")

        _header, *read = list(csv.reader(io.StringIO(data, newline=""), delimiter=";"))
        assert read == [
            ['\'=HYPERLINK("http://x")', "-12.00"],  # amounts stay numbers, signs kept
            ["'@SUM(A1)", "1.00"],
            ["'-1+1", "2.00"],
            ["Commune d'Ypres", "3.00"],
        ]

    def test_the_xlsx_holds_the_rows_with_amounts_as_numbers(self, books):
        data = _read(exports.xlsx_chunks(exports.journal(books, YEAR)))
        sheet = load_workbook(io.BytesIO(data), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "Écriture"
        assert len(rows) == 1 + 17 + 1  # header, lines, total
        assert rows[-1][0] == "Total"
        assert rows[-1][9] == rows[-1][10] == pytest.approx(float(sum(r[9] for r in rows[1:-1])))
        assert rows[1][1].date() == date(2026, 3, 2)

    def test_the_pdf_is_paginated_with_its_title_and_totals(self, books):
        report = exports.trial_balance(books, YEAR)
        data = _read(report_pdf_chunks(report, organisation="Syndicat mixte"))
        reader = PdfReader(io.BytesIO(data))
        text = reader.pages[0].extract_text()
        assert "Balance générale - exercice 2026" in text
        assert "Syndicat mixte" in text
        assert re.search(rf"page 1 / \s*{len(reader.pages)}\b", text)
        assert "Total général" in text
        assert "4111" in text

    def test_a_long_journal_spreads_over_pages_each_with_its_header(self, session):
        for day in range(1, 29):
            for amount in ("10.00", "20.00", "30.00"):
                subsidy_received(session, amount=amount, received_on=date(2026, 2, day))
        post_all(session)
        data = _read(report_pdf_chunks(exports.journal(session, YEAR), organisation="S"))
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() for page in reader.pages]
        assert len(pages) >= 3
        assert all("Libellé du compte" in page for page in pages)
        assert re.search(rf"page {len(pages)} / \s*{len(pages)}\b", pages[-1])
        assert "Total" in pages[-1]

    def test_a_pdf_too_long_is_refused_before_anything_is_written(self, books):
        report = exports.journal(books, YEAR)
        too_long = exports.Report(**{**report.__dict__, "line_count": PDF_MAX_LINES + 1})
        with pytest.raises(ReportTooLongForPdf, match="export it as CSV, XLSX or FEC"):
            report_pdf_chunks(too_long, organisation="S")
