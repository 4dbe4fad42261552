"""Auditors and finance read the books from their pages: fiscal years, exports, trial
balance, entries, the activity report with its chart, and the margin per family."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from purchasing.audit.models import AuditRecord
from purchasing.billing import run
from purchasing.catalog.pricing import Billing
from purchasing.ledger import pdf as pdf_documents
from purchasing.ledger import reports, services
from purchasing.ledger.exports import ExportScope
from purchasing.ledger.models import FiscalYear, FiscalYearStatus, JournalEntry
from purchasing.ledger.pages import purchases_and_sales_chart
from tests.factories import (
    catalog_family,
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
)
from tests.factories.billing import billing_settings, make_issued_invoice
from tests.factories.ledger import (
    make_ledger_accounts,
    post_all,
    subsidy_received,
    subsidy_reversed,
)

D = Decimal
NBSP = "\u202f"  # Babel's thousands separator in French


def amount(text: str) -> str:
    """``"1 234,56 €"`` as the pages print it (narrow no-break spaces)."""
    return text.replace(" ", NBSP).replace(NBSP + "€", "\xa0€")


@pytest.fixture
def posted(session):
    """An invoice (240,00 HT + 48,00 VAT) in March and a 500,00 grant receipt in June 2026."""
    make_ledger_accounts(session)
    invoice = make_issued_invoice(session)
    subsidy_received(session, amount="500.00", received_on=date(2026, 6, 1))
    assert post_all(session).refused == ()
    return invoice


@pytest.fixture
def year_of_activity(session):
    """2026: video-protection bought 2 000,00 and sold 2 032,40; a digital module sold;
    four telecom links; the grant received and partly passed on."""
    supplier = make_supplier(session)
    video = catalog_family(session, "video_protection")
    digital = catalog_family(session, "mairie_connectee")
    telecom = catalog_family(session, "telecom")
    camera = make_product(
        session, family=video, supplier=supplier, billing=Billing.ONE_OFF, cost="1000.00"
    )
    module = make_product(
        session, family=digital, supplier=supplier, billing=Billing.ONE_OFF, cost="100.00"
    )
    link = make_product(session, family=telecom, supplier=supplier, unit="lien", cost="40.00")
    early = make_member(session, adhesion_start=date(2023, 3, 1))
    newcomer = make_member(session, adhesion_start=date(2026, 1, 5))
    video_order = make_order(session, member=early, lines=[(camera, 2)], status="delivered")
    digital_order = make_order(session, member=newcomer, lines=[(module, 3)], status="delivered")
    make_order(session, member=newcomer, lines=[(link, 4)], status="ordered")
    for order in (video_order, digital_order):
        invoice_in_full(session, order.purchase_orders[0], number=f"F-{order.id}")
    for member in (early, newcomer):
        run.invoice_member(
            session,
            member.id,
            run.periods.month(2026, 3),
            settings=billing_settings(),
            issued_by=None,
            issue_date=date(2026, 3, 31),
        )
    subsidy_received(session, amount="384440.40", received_on=date(2026, 5, 2))
    subsidy_reversed(session, amount="206178.40", reversed_on=date(2026, 9, 1))
    assert post_all(session).refused == ()
    return session


# --- Fiscal years and exports -----------------------------------------------------------


class TestExportsPage:
    def test_it_lists_the_fiscal_years_with_their_status_and_totals(self, pages_as, posted):
        page = pages_as("auditor").get("/ledger")

        assert page.status_code == 200
        assert "<h1>Comptabilité</h1>" in page.text
        row = _row_of(page.text, '<th scope="row">2026</th>')
        assert "Ouvert" in row
        assert ">2<" in row  # entries
        assert amount("788,00 €") in row  # 288,00 invoice + 500,00 grant
        assert 'name="document"' in page.text and 'value="fec"' in page.text

    def test_an_auditor_gets_no_close_button(self, pages_as, posted):
        page = pages_as("auditor").get("/ledger")
        assert "Clôturer 2026" not in page.text

    def test_finance_closes_a_year_after_confirming(self, pages_as, session, years_over):
        finance = pages_as("finance")
        services.open_fiscal_year(session, 2030, actor=None)
        page = finance.get("/ledger")
        assert 'data-confirm="Clôturer l&#39;exercice 2030 ?' in page.text

        answer = finance.post("/ledger/fiscal-years/2030/close", follow_redirects=True)

        assert answer.status_code == 200
        assert "Exercice 2030 clôturé" in answer.text
        assert "Clôturé" in _row_of(answer.text, '<th scope="row">2030</th>')
        session.expire_all()
        year = session.get(FiscalYear, 2030)
        assert year.status is FiscalYearStatus.CLOSED
        assert year.closed_by_id == finance.user.id
        assert session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "fiscal_year.closed", AuditRecord.entity_id == "2030"
            )
        ).one()

    def test_a_refused_closing_says_why_and_changes_nothing(self, pages_as, session, years_over):
        services.open_fiscal_year(session, 2030, actor=None)
        services.open_fiscal_year(session, 2031, actor=None)

        answer = pages_as("admin").post("/ledger/fiscal-years/2031/close", follow_redirects=True)

        assert "L'exercice 2031 n'est pas clôturé : clôturez d'abord l'exercice 2030." in (
            answer.text.replace("&#39;", "'")
        )
        session.expire_all()
        assert session.get(FiscalYear, 2031).status is FiscalYearStatus.OPEN

    def test_closing_an_unknown_year_answers_404(self, pages_as, years_over):
        assert pages_as("finance").post("/ledger/fiscal-years/2044/close").status_code == 404

    def test_only_finance_and_admins_may_close_a_year(self, pages_as, session, years_over):
        services.open_fiscal_year(session, 2030, actor=None)
        assert pages_as("auditor").post("/ledger/fiscal-years/2030/close").status_code == 403
        session.expire_all()
        assert session.get(FiscalYear, 2030).status is FiscalYearStatus.OPEN

    def test_other_roles_may_not_open_the_books(self, pages_as, session):
        member = pages_as("member", member=make_member(session))
        purchasing = pages_as("purchasing")
        for path in (
            "/ledger",
            "/ledger/trial-balance",
            "/ledger/entries",
            "/ledger/activity",
            "/ledger/activity/2026/pdf",
            "/ledger/margins",
        ):
            assert member.get(path).status_code == 403, path
            assert purchasing.get(path).status_code == 403, path
        assert purchasing.post("/ledger/exports", {"document": "fec"}).status_code == 403


class TestDownloads:
    def test_the_fec_of_a_year_under_its_regulatory_name(self, pages_as, posted):
        answer = pages_as("auditor").post(
            "/ledger/exports", {"document": "fec", "fiscal_year": "2026"}
        )

        assert answer.status_code == 200
        assert answer.headers["Content-Disposition"] == (
            'attachment; filename="255900128FEC20261231.txt"'
        )
        assert answer.headers["Cache-Control"] == "private, no-store"
        records = answer.data.decode("iso-8859-15").splitlines()
        assert records[0].split("\t")[:3] == ["JournalCode", "JournalLib", "EcritureNum"]
        assert len(records) == 1 + 5
        assert {record.split("\t")[0] for record in records[1:]} == {"VE", "BQ"}

    def test_the_journal_as_csv(self, pages_as, posted):
        answer = pages_as("finance").post(
            "/ledger/exports", {"document": "journal", "fiscal_year": "2026", "format": "csv"}
        )

        assert answer.headers["Content-Disposition"].endswith('filename="journal-2026.csv"')
        rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8")), delimiter=";"))
        assert rows[0][0] == "Écriture"
        assert [row[0] for row in rows[1:]] == ["EC-2026-000001"] * 3 + ["EC-2026-000002"] * 2

    def test_the_general_ledger_of_a_date_range_as_xlsx(self, pages_as, posted):
        answer = pages_as("auditor").post(
            "/ledger/exports",
            {
                "document": "general-ledger",
                "date_from": "2026-01-01",
                "date_to": "2026-05-31",
                "format": "xlsx",
            },
        )

        assert "grand-livre-20260101-20260531.xlsx" in answer.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(answer.data), read_only=True).active
        accounts = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert "4111" in accounts
        assert "515" not in accounts  # the grant came in June

    def test_the_trial_balance_as_pdf(self, pages_as, posted):
        answer = pages_as("admin").post(
            "/ledger/exports", {"document": "trial-balance", "fiscal_year": "2026", "format": "pdf"}
        )

        assert answer.mimetype == "application/pdf"
        text = PdfReader(io.BytesIO(answer.data)).pages[0].extract_text()
        assert "Balance générale - exercice 2026" in text
        assert "788,00" in text

    def test_a_pdf_too_long_is_refused_on_the_format_before_anything_is_sent(
        self, pages_as, posted, monkeypatch
    ):
        monkeypatch.setattr(pdf_documents, "PDF_MAX_LINES", 4)  # the journal has 5 lines

        answer = pages_as("auditor").post(
            "/ledger/exports", {"document": "journal", "fiscal_year": "2026", "format": "pdf"}
        )

        assert answer.status_code == 422
        assert answer.mimetype == "text/html"
        assert (
            'id="format-error">Trop de lignes pour un PDF (au plus 4) : '
            "choisissez CSV, XLSX ou le FEC." in answer.text
        )

    def test_a_range_ending_before_it_starts_is_shown_next_to_its_end(self, pages_as, posted):
        answer = pages_as("auditor").post(
            "/ledger/exports",
            {"document": "journal", "date_from": "2026-06-30", "date_to": "2026-01-01"},
        )

        assert answer.status_code == 422
        assert answer.mimetype == "text/html"
        assert 'id="date_to-error">La date de fin précède la date de début.' in answer.text
        assert 'value="2026-06-30"' in answer.text  # what was typed is kept
        assert re.search(r'<option value="journal" selected>', answer.text)

    def test_a_year_and_a_range_at_once_are_refused_on_the_year(self, pages_as, posted):
        answer = pages_as("auditor").post(
            "/ledger/exports",
            {
                "document": "fec",
                "fiscal_year": "2026",
                "date_from": "2026-01-01",
                "date_to": "2026-03-31",
            },
        )

        assert answer.status_code == 422
        assert 'id="fiscal_year-error">Choisissez un exercice ou une période' in answer.text

    def test_half_a_range_is_named_on_its_missing_end(self, pages_as):
        answer = pages_as("auditor").post(
            "/ledger/exports", {"document": "journal", "date_from": "2026-01-01"}
        )

        assert answer.status_code == 422
        assert 'id="date_to-error">Une période a une date de début et une date de fin.' in (
            answer.text
        )

    def test_an_unknown_document_is_named(self, pages_as):
        answer = pages_as("auditor").post(
            "/ledger/exports", {"document": "bilan", "fiscal_year": "2026"}
        )

        assert answer.status_code == 422
        assert 'id="document-error">Choisissez une valeur proposée.' in answer.text

    def test_another_page_can_link_to_the_form_with_its_scope_chosen(self, pages_as, posted):
        page = pages_as("auditor").get(
            "/ledger?document=trial-balance&date_from=2026-01-01&date_to=2026-03-31"
        )

        assert '<option value="trial-balance" selected>' in page.text
        assert 'value="2026-03-31"' in page.text
        assert '<option value="2026" selected>' not in page.text  # no year with a range


# --- Reading the books ------------------------------------------------------------------


class TestTrialBalancePage:
    def test_it_shows_each_account_in_french_amounts(self, pages_as, posted):
        page = pages_as("auditor").get("/ledger/trial-balance?fiscal_year=2026")

        assert page.status_code == 200
        assert "Balance générale · exercice 2026" in page.text
        receivable = _row_of(page.text, ">4111<")
        assert amount("288,00 €") in receivable
        sales = _row_of(page.text, ">7062<")
        assert amount("240,00 €") in sales
        footer = page.text[page.text.index("<tfoot>") :]
        assert footer.count(amount("788,00 €")) == 4  # debits, credits, and both balances

    def test_without_a_scope_it_shows_the_latest_year(self, pages_as, posted):
        page = pages_as("finance").get("/ledger/trial-balance")
        assert "exercice 2026" in page.text
        assert '<option value="2026" selected>' in page.text

    def test_a_date_range_keeps_only_its_entries(self, pages_as, posted):
        page = pages_as("auditor").get(
            "/ledger/trial-balance?date_from=2026-01-01&date_to=2026-05-31"
        )
        assert "du 01/01/2026 au 31/05/2026" in page.text
        assert ">4111<" in page.text and ">515<" not in page.text

    def test_a_range_across_a_year_end_is_refused_next_to_its_end(self, pages_as, posted):
        page = pages_as("auditor").get(
            "/ledger/trial-balance?date_from=2026-12-01&date_to=2027-01-31"
        )
        assert page.status_code == 422
        assert (
            'id="date_to-error">Une période reste dans un exercice '
            "(du 1er janvier au 31 décembre) : exportez chaque exercice." in page.text
        )
        assert "<tfoot>" not in page.text

    def test_a_bad_range_is_named_and_nothing_is_summed(self, pages_as, posted):
        page = pages_as("auditor").get(
            "/ledger/trial-balance?date_from=2026-05-31&date_to=2026-01-01"
        )
        assert page.status_code == 422
        assert 'id="date_to-error">La date de fin précède la date de début.' in page.text
        assert "<tfoot>" not in page.text


class TestEntriesPages:
    def test_entries_filter_by_journal_and_paginate(self, pages_as, posted, session):
        make_ledger_accounts(session)
        for month in (7, 8):
            subsidy_received(session, amount="10.00", received_on=date(2026, month, 1))
        post_all(session)
        auditor = pages_as("auditor")

        treasury = auditor.get("/ledger/entries?journal=BQ&per_page=2")

        assert treasury.status_code == 200
        assert "EC-2026-000002" in treasury.text and "EC-2026-000003" in treasury.text
        assert "EC-2026-000001" not in treasury.text  # the invoice, journal VE
        assert "3 résultats · page 1 sur 2" in treasury.text
        assert "EC-2026-000004" in auditor.get("/ledger/entries?journal=BQ&per_page=2&page=2").text

    def test_entries_filter_by_account_and_show_a_bad_filter(self, pages_as, posted):
        page = pages_as("auditor").get("/ledger/entries?account=4111&journal=XX")
        assert "Choisissez une valeur proposée." in page.text
        assert "EC-2026-000001" in page.text and "EC-2026-000002" not in page.text

    def test_an_entry_shows_its_lines_with_the_account_labels(self, pages_as, posted, session):
        entry = session.scalars(select(JournalEntry).where(JournalEntry.journal == "VE")).one()

        page = pages_as("auditor").get(f"/ledger/entries/{entry.id}")

        assert page.status_code == 200
        assert f"Écriture {entry.number}" in page.text
        assert posted.number in page.text
        line = _row_of(page.text, ">4111<")
        assert "Clients amiable" in line and amount("288,00 €") in line
        assert f"M{posted.member_id:05d}" in line

    def test_an_unknown_entry_answers_404(self, pages_as):
        assert pages_as("auditor").get("/ledger/entries/999999").status_code == 404


# --- Reports ----------------------------------------------------------------------------


class TestActivityPage:
    def test_it_gives_the_years_figures_in_french(self, pages_as, year_of_activity):
        page = pages_as("auditor").get("/ledger/activity?year=2026")

        assert page.status_code == 200
        assert "Rapport d'activité 2026" in page.text.replace("&#39;", "'")
        text = _facts(page.text)
        assert text["Adhérents au 31 décembre"] == "2"
        assert text["Nouvelles adhésions"] == "1"
        assert text["Commandes passées"] == "3"
        assert text["Liens télécoms commandés"] == "4"
        assert text["Collectivités servies en vidéoprotection"] == "1"
        assert text["Subvention reçue"] == amount("384 440,40 €")
        assert text["Reversée aux partenaires"] == amount("206 178,40 €")
        margins = page.text[page.text.index("Taux de marge") :]
        video = _row_of(margins, "video_protection</th>")
        assert [amount("2 000,00 €"), amount("2 032,40 €"), amount("32,40 €")] == re.findall(
            r'<td class="num">([^<]*€)</td>', video
        )
        assert "1,62\xa0%" in video

    def test_its_chart_draws_purchases_and_sales_in_the_page(self, pages_as, year_of_activity):
        page = pages_as("auditor").get("/ledger/activity?year=2026")

        svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
        assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
        assert '<title id="chart-title">Achats et ventes par famille, 2026</title>' in svg
        assert "style=" not in svg  # the page's CSP allows no inline style
        bars = dict(re.findall(r'width="([\d.]+)" height="16" fill="[^"]+"><title>([^<]+)', svg))
        by_label = {label: Decimal(width) for width, label in bars.items()}
        purchases = by_label[f"Achats : {amount('2 000,00 €')}"]
        sales = by_label[f"Ventes : {amount('2 032,40 €')}"]
        assert purchases < sales
        assert sales / purchases == pytest.approx(Decimal("2032.40") / 2000, rel=Decimal("0.001"))

    def test_a_bad_year_is_named_and_the_latest_year_shown(self, pages_as, year_of_activity):
        page = pages_as("finance").get("/ledger/activity?year=1900")
        assert "Doit être compris entre 2000 et 2100." in page.text
        assert "Rapport d'activité 2026" in page.text.replace("&#39;", "'")

    def test_the_pdf_is_the_activity_report_of_the_year(self, pages_as, year_of_activity):
        answer = pages_as("auditor").get("/ledger/activity/2026/pdf")

        assert answer.mimetype == "application/pdf"
        assert answer.headers["Content-Disposition"] == (
            "attachment; filename=rapport-activite-2026.pdf"
        )
        text = PdfReader(io.BytesIO(answer.data)).pages[0].extract_text()
        assert "Rapport d'activité 2026" in text
        assert "384 440,40" in text.replace("\xa0", " ")

    def test_a_year_without_activity_says_so(self, pages_as):
        page = pages_as("auditor").get("/ledger/activity?year=2031")
        assert "Aucun achat ni aucune vente passés en écriture cette année." in page.text
        assert "<svg" not in page.text

    def test_a_pdf_of_an_impossible_year_answers_404(self, pages_as):
        assert pages_as("auditor").get("/ledger/activity/1800/pdf").status_code == 404


class TestMarginsPage:
    def test_margins_per_family_over_a_date_range(self, pages_as, year_of_activity):
        page = pages_as("auditor").get("/ledger/margins?date_from=2026-02-01&date_to=2026-03-31")

        assert page.status_code == 200
        assert "Marges par famille · du 01/02/2026 au 31/03/2026" in page.text
        assert amount("2 032,40 €") in _row_of(page.text, "video_protection</th>")
        footer = page.text[page.text.index("<tfoot>") :]
        assert amount("2 300,00 €") in footer and amount("2 348,54 €") in footer

    def test_a_range_outside_the_activity_is_empty(self, pages_as, year_of_activity):
        page = pages_as("auditor").get("/ledger/margins?fiscal_year=2025")
        assert "Aucun achat ni aucune vente passés en écriture sur cette période." in page.text


def test_the_chart_axis_is_round_and_reaches_the_largest_amount():
    margins = reports.MarginReport(
        scope=ExportScope.for_year(2024),
        families=(
            reports.FamilyMargin(
                "video_protection", "Vidéoprotection", D("2086336.87"), D("2120172.13")
            ),
            reports.FamilyMargin(
                "mairie_connectee", "Mairie Connectée", D("82639.20"), D("87084.82")
            ),
            reports.FamilyMargin(None, "(sans famille)", D("0"), D("-12.00")),
        ),
    )

    chart = purchases_and_sales_chart(margins, year=2024)

    assert [label for _x, label in chart.ticks] == [
        "0", "500\u202f000", "1\u202f000\u202f000", "1\u202f500\u202f000", "2\u202f000\u202f000",
        "2\u202f500\u202f000",
    ]  # fmt: skip
    plot = chart.ticks[-1][0] - chart.plot_left
    video_sales = chart.groups[0].bars[1]
    assert video_sales.length == (D("2120172.13") * plot / 2_500_000).quantize(D("0.1"))
    assert chart.groups[2].bars[1].length == 0  # a negative total draws no bar
    assert chart.groups[2].bars[1].text == "-12,00\xa0€"


def _row_of(html: str, marker: str) -> str:
    """The table row holding ``marker``."""
    at = html.index(marker)
    return html[html.rindex("<tr", 0, at) : html.index("</tr>", at)]


def _facts(html: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", html))
