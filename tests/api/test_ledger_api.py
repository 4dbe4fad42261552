"""The ledger API: one happy path and one refusal per endpoint."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from purchasing.fields import today_in_paris
from tests.factories.billing import make_issued_invoice
from tests.factories.ledger import make_ledger_accounts, post_all, subsidy_received


@pytest.fixture
def posted(session):
    """An invoice and a grant receipt, posted in 2026."""
    make_ledger_accounts(session)
    invoice = make_issued_invoice(session)
    subsidy_received(session, amount="500.00", received_on=date(2026, 6, 1))
    post_all(session)
    return invoice


class TestFiscalYears:
    def test_finance_opens_and_closes_a_year_and_an_auditor_lists_them(
        self, api_as, session, years_over
    ):
        finance = api_as("finance")
        opened = finance.post("/ledger/fiscal-years", json={"year": 2030})
        assert opened.status_code == 201, opened.json
        assert opened.json["status"] == "open"
        closed = finance.post("/ledger/fiscal-years/2030/close")
        assert closed.status_code == 200, closed.json
        assert closed.json["status"] == "closed"
        listed = api_as("auditor").get("/ledger/fiscal-years")
        # Closing opens the next year, to carry the balances into.
        assert [(y["year"], y["status"]) for y in listed.json] == [
            (2031, "open"),
            (2030, "closed"),
        ]

    def test_a_year_still_running_is_not_closed(self, api_as, session):
        finance = api_as("finance")
        year = today_in_paris().year
        finance.post("/ledger/fiscal-years", json={"year": year})

        refused = finance.post(f"/ledger/fiscal-years/{year}/close")

        assert refused.status_code == 409
        assert refused.json["errors"]["json"]["year"] == [
            f"fiscal year {year} is not over: it can be closed from 01/01/{year + 1}"
        ]
        listed = api_as("auditor").get("/ledger/fiscal-years")
        assert [(y["year"], y["status"]) for y in listed.json] == [(year, "open")]

    def test_a_year_is_opened_once(self, api_as):
        finance = api_as("finance")
        finance.post("/ledger/fiscal-years", json={"year": 2030})
        again = finance.post("/ledger/fiscal-years", json={"year": 2030})
        assert again.status_code == 409
        assert again.json["errors"]["json"]["year"] == ["fiscal year 2030 already exists"]

    def test_an_auditor_may_not_close_a_year(self, api_as, posted, years_over):
        assert api_as("auditor").post("/ledger/fiscal-years/2026/close").status_code == 403

    def test_a_closed_year_is_never_reopened(self, api_as, posted, years_over):
        finance = api_as("finance")
        finance.post("/ledger/fiscal-years/2026/close")
        reopened = finance.post("/ledger/fiscal-years/2026/reopen")
        assert reopened.status_code == 409
        assert "never reopened" in reopened.json["message"]

    def test_closing_determines_the_result_and_opens_the_next_year(
        self, api_as, posted, years_over
    ):
        closed = api_as("finance").post("/ledger/fiscal-years/2026/close")
        assert closed.status_code == 200, closed.json
        assert closed.json["result"] == "240.00"  # the sales; the grant is not earned yet
        year_end = api_as("auditor").get("/ledger/fiscal-years/2026/year-end")
        assert year_end.status_code == 200, year_end.json
        assert year_end.json["result_entry"]["journal"] == "CL"
        assert year_end.json["result_entry"]["entry_date"] == "2026-12-31"
        opening = year_end.json["opening_entry"]
        assert (opening["number"], opening["journal"], opening["entry_date"]) == (
            "EC-2027-000000",
            "AN",
            "2027-01-01",
        )
        assert {line["account_number"]: line["credit"] for line in opening["lines"]} == {
            "120": "240.00",
            "4111": "0.00",
            "441": "500.00",
            "44571": "48.00",
            "515": "0.00",
        }
        member_line = next(line for line in opening["lines"] if line["account_number"] == "4111")
        assert member_line["matching_reference"] == posted.number

    def test_an_open_year_has_no_year_end(self, api_as, posted):
        refused = api_as("auditor").get("/ledger/fiscal-years/2026/year-end")
        assert refused.status_code == 404
        assert refused.json["errors"]["json"]["year"] == ["no closed fiscal year 2026"]

    def test_an_out_of_range_year_is_refused_by_field(self, api_as):
        refused = api_as("finance").post("/ledger/fiscal-years", json={"year": 1999})
        assert refused.status_code == 422
        assert "year" in refused.json["errors"]["json"]


class TestPosting:
    def test_finance_posts_the_pending_events(self, api_as, session):
        make_ledger_accounts(session)
        subsidy_received(session)
        posted = api_as("finance").post("/ledger/postings", json={})
        assert posted.status_code == 200, posted.json
        assert posted.json == {"posted": 1, "empty": 0, "refused": [], "pending": 0}

    def test_events_of_a_closed_year_are_reported_refused(self, api_as, session, years_over):
        finance = api_as("finance")
        finance.post("/ledger/fiscal-years", json={"year": 2026})
        finance.post("/ledger/fiscal-years/2026/close")
        event = subsidy_received(session)
        posted = finance.post("/ledger/postings", json={"limit": 10})
        (refusal,) = posted.json["refused"]
        assert refusal["event_id"] == event.id
        assert refusal["message"] == "fiscal year 2026 is closed: it takes no posting"
        assert posted.json["pending"] == 1

    def test_an_auditor_may_not_post(self, api_as):
        assert api_as("auditor").post("/ledger/postings", json={}).status_code == 403


class TestReading:
    def test_entries_are_listed_with_their_lines(self, api_as, posted):
        page = api_as("auditor").get("/ledger/entries?fiscal_year=2026&journal=VE")
        assert page.status_code == 200
        (entry,) = page.json["items"]
        assert entry["number"] == "EC-2026-000001"
        assert entry["document_reference"] == posted.number
        assert [line["account_number"] for line in entry["lines"]] == ["4111", "7062", "44571"]
        assert entry["lines"][0]["debit"] == "288.00"
        one = api_as("auditor").get(f"/ledger/entries/{entry['id']}")
        assert one.json["total"] == "288.00"

    def test_entries_can_be_found_by_account_or_member(self, api_as, posted):
        by_account = api_as("auditor").get("/ledger/entries?account=515")
        assert [e["source_kind"] for e in by_account.json["items"]] == ["subsidy.received"]
        aux = f"M{posted.member_id:05d}"
        by_member = api_as("auditor").get(f"/ledger/entries?auxiliary={aux}")
        assert by_member.json["total"] == 1

    def test_an_unknown_entry_is_not_found(self, api_as):
        assert api_as("auditor").get("/ledger/entries/999999").status_code == 404

    def test_a_member_user_may_not_read_the_books(self, api_as, posted):
        assert api_as("member").get("/ledger/entries").status_code == 403

    def test_the_trial_balance_sums_to_zero(self, api_as, posted):
        balance = api_as("auditor").get("/ledger/trial-balance?fiscal_year=2026")
        assert balance.status_code == 200
        assert balance.json["total_debit"] == balance.json["total_credit"] == "788.00"
        assert {line["account"]: line["balance"] for line in balance.json["lines"]} == {
            "4111": "288.00",
            "7062": "-240.00",
            "44571": "-48.00",
            "515": "500.00",
            "441": "-500.00",
        }

    def test_a_scope_needs_a_year_or_a_whole_range(self, api_as):
        refused = api_as("auditor").get("/ledger/trial-balance?date_from=2026-01-01")
        assert refused.status_code == 422
        assert "date_to" in refused.json["errors"]["query"]

    def test_a_range_across_a_year_end_is_refused_on_its_end(self, api_as, posted):
        refused = api_as("auditor").get(
            "/ledger/trial-balance?date_from=2026-12-01&date_to=2027-01-31"
        )
        assert refused.status_code == 422
        assert refused.json["errors"]["query"]["date_to"] == [
            "a range stays within one fiscal year (1 January to 31 December): export each year"
        ]

    def test_the_check_finds_the_books_in_order(self, api_as, posted):
        check = api_as("auditor").get("/ledger/check?fiscal_year=2026")
        assert check.json["ok"] is True
        assert (check.json["entries"], check.json["lines"]) == (2, 5)
        assert check.json["unbalanced_letterings"] == []


class TestExports:
    def test_the_fec_is_streamed_under_its_regulatory_name(self, api_as, posted):
        response = api_as("auditor").get("/ledger/exports/fec?fiscal_year=2026")
        assert response.status_code == 200
        assert response.is_streamed
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="255900128FEC20261231.txt"'
        )
        assert response.mimetype == "text/plain"
        records = response.data.decode("iso-8859-15").splitlines()
        assert records[0].split("\t")[:3] == ["JournalCode", "JournalLib", "EcritureNum"]
        assert len(records) == 1 + 5

    def test_the_journal_as_csv(self, api_as, posted):
        response = api_as("auditor").get("/ledger/exports/journal?fiscal_year=2026")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].endswith('filename="journal-2026.csv"')
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8")), delimiter=";"))
        assert len(rows) == 1 + 5

    def test_the_general_ledger_as_xlsx_for_a_date_range(self, api_as, posted):
        response = api_as("finance").get(
            "/ledger/exports/general-ledger?format=xlsx&date_from=2026-01-01&date_to=2026-05-31"
        )
        assert response.status_code == 200
        assert "grand-livre-20260101-20260531.xlsx" in response.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
        accounts = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert "515" not in accounts  # the grant came in June
        assert "4111" in accounts

    def test_the_trial_balance_as_pdf(self, api_as, posted):
        response = api_as("admin").get("/ledger/exports/trial-balance?fiscal_year=2026&format=pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
        assert "Balance générale - exercice 2026" in text

    def test_an_unknown_format_is_refused(self, api_as):
        refused = api_as("auditor").get("/ledger/exports/journal?fiscal_year=2026&format=ods")
        assert refused.status_code == 422
        assert "format" in refused.json["errors"]["query"]

    def test_purchasing_staff_may_not_export(self, api_as):
        response = api_as("purchasing").get("/ledger/exports/fec?fiscal_year=2026")
        assert response.status_code == 403


class TestReports:
    def test_margins_per_family(self, api_as, posted):
        response = api_as("auditor").get("/ledger/margins?fiscal_year=2026")
        assert response.status_code == 200
        (family,) = response.json["families"]
        assert (family["sales"], family["purchases"], family["margin_rate"]) == (
            "240.00",
            "0.00",
            None,
        )
        assert response.json["title"] == "exercice 2026"

    def test_margins_need_a_scope(self, api_as):
        assert api_as("auditor").get("/ledger/margins").status_code == 422

    def test_the_activity_report_as_figures_and_as_pdf(self, api_as, posted):
        figures = api_as("auditor").get("/ledger/activity-reports/2026")
        assert figures.status_code == 200
        assert figures.json["grant_received"] == "500.00"
        assert figures.json["margins"]["sales"] == "240.00"
        pdf = api_as("auditor").get("/ledger/activity-reports/2026/pdf")
        assert pdf.mimetype == "application/pdf"
        assert "Rapport d'activité 2026" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()

    def test_a_year_out_of_range_is_refused(self, api_as):
        refused = api_as("auditor").get("/ledger/activity-reports/1900")
        assert refused.status_code == 422
        assert "year" in refused.json["errors"]["json"]
