"""An auditor in a real browser: the books and their exports (the FEC among them), the
activity report with its chart, and the audit trail; a screenshot of each page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import expect

from purchasing.billing import run
from purchasing.catalog.pricing import Billing
from tests.factories import (
    catalog_family,
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
    make_user,
)
from tests.factories.billing import billing_settings
from tests.factories.ledger import make_ledger_accounts, post_all, subsidy_received

YEAR = 2026


@dataclass(frozen=True)
class Books:
    auditor: object
    finance: object
    invoice_numbers: tuple[str, ...]


@pytest.fixture(scope="module")
def books(live_server) -> Books:
    """2026: video-protection and a digital module bought, delivered and invoiced in March,
    a FEDER grant received in May, all posted to the books."""
    with live_server.sessions() as session:
        make_ledger_accounts(session)
        supplier = make_supplier(session)
        video = catalog_family(session, "video_protection")
        digital = catalog_family(session, "mairie_connectee")
        camera = make_product(
            session, family=video, supplier=supplier, billing=Billing.ONE_OFF, cost="1000.00"
        )
        module = make_product(
            session, family=digital, supplier=supplier, billing=Billing.ONE_OFF, cost="100.00"
        )
        invoices = []
        for product, quantity in ((camera, 2), (module, 3)):
            member = make_member(session)
            order = make_order(
                session, member=member, lines=[(product, quantity)], status="delivered"
            )
            invoice_in_full(session, order.purchase_orders[0], number=f"F-E2E-{order.id}")
            invoices += run.invoice_member(
                session,
                member.id,
                run.periods.month(YEAR, 3),
                settings=billing_settings(),
                issued_by=None,
                issue_date=date(YEAR, 3, 31),
            )
        subsidy_received(session, amount="384440.40", received_on=date(YEAR, 5, 2))
        assert post_all(session).refused == ()
        auditor, _ = make_user(session, role="auditor")
        finance, _ = make_user(session, role="finance")
        session.commit()
        return Books(auditor, finance, tuple(invoice.number for invoice in invoices))


def test_an_auditor_exports_the_fec_of_the_year(sign_in, books, screenshots):
    page = sign_in(books.auditor)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Comptabilité"
    ).click()

    expect(page.get_by_role("heading", name="Comptabilité", exact=True)).to_be_visible()
    years = page.get_by_role("region", name="Exercices")
    expect(years.get_by_role("rowheader", name=str(YEAR))).to_be_visible()
    assert page.get_by_role("button", name=f"Clôturer {YEAR}").count() == 0  # read-only
    page.screenshot(path=screenshots / "ledger-exports.png", full_page=True)

    page.get_by_label("Document").select_option(label="FEC (fichier des écritures comptables)")
    page.get_by_label("Exercice", exact=True).select_option(str(YEAR))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Télécharger").click()
    download = download_info.value

    assert download.suggested_filename == f"255900128FEC{YEAR}1231.txt"
    records = download.path().read_bytes().decode("iso-8859-15").splitlines()
    assert records[0].startswith("JournalCode\tJournalLib\tEcritureNum\tEcritureDate")
    pieces = {record.split("\t")[8] for record in records[1:]}
    assert set(books.invoice_numbers) <= pieces


def test_a_range_ending_before_it_starts_is_shown_next_to_its_field(sign_in, books):
    page = sign_in(books.auditor)
    page.goto("/ledger")

    page.get_by_label("Exercice", exact=True).select_option("")
    page.get_by_label("ou du").fill(f"{YEAR}-06-30")
    page.get_by_label("au (inclus)").fill(f"{YEAR}-01-01")
    page.get_by_role("button", name="Télécharger").click()

    end = page.get_by_label("au (inclus)")
    assert end.get_attribute("aria-invalid") == "true"
    assert page.locator("#date_to-error").inner_text() == "La date de fin précède la date de début."
    assert page.get_by_label("ou du").input_value() == f"{YEAR}-06-30"


def test_finance_is_asked_before_closing_a_year_and_may_decline(sign_in, books):
    page = sign_in(books.finance)
    page.goto("/ledger")
    questions = []

    def decline(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.get_by_role("button", name=f"Clôturer {YEAR}").click()

    assert questions and questions[0].startswith(f"Clôturer l'exercice {YEAR} ?")
    row = page.get_by_role("row", name=re.compile(rf"^{YEAR}\b"))
    expect(row.get_by_text("Ouvert")).to_be_visible()  # nothing was sent


def test_the_trial_balance_and_the_entries_on_screen(sign_in, books, screenshots):
    page = sign_in(books.auditor)
    page.goto(f"/ledger/trial-balance?fiscal_year={YEAR}")

    expect(page.get_by_role("heading", name=f"Balance générale · exercice {YEAR}")).to_be_visible()
    treasury = page.get_by_role("row", name=re.compile(r"^515\b"))
    assert "384\u202f440,40\xa0€" in treasury.inner_text()
    page.screenshot(path=screenshots / "ledger-trial-balance.png", full_page=True)

    treasury.get_by_role("link", name="515").click()
    expect(page.get_by_role("heading", name="Écritures")).to_be_visible()
    page.get_by_role("link", name=re.compile(rf"^EC-{YEAR}-")).first.click()
    expect(page.get_by_role("heading", name=re.compile(rf"^Écriture EC-{YEAR}-"))).to_be_visible()
    expect(page.get_by_role("cell", name="Compte au Trésor")).to_be_visible()
    page.screenshot(path=screenshots / "ledger-entry.png", full_page=True)

    page.goto(f"/ledger/entries?fiscal_year={YEAR}&journal=VE")
    assert page.get_by_role("link", name=re.compile(rf"^EC-{YEAR}-")).count() >= 2
    page.screenshot(path=screenshots / "ledger-entries.png", full_page=True)


def test_the_activity_report_with_its_chart(sign_in, books, screenshots):
    page = sign_in(books.auditor)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Rapport d'activité"
    ).click()
    page.get_by_label("Année").select_option(str(YEAR))
    page.get_by_role("button", name="Afficher").click()

    expect(page.get_by_role("heading", name=f"Rapport d'activité {YEAR}")).to_be_visible()
    chart = page.get_by_role("img", name=f"Achats et ventes par famille, {YEAR}")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    expect(page.get_by_text("384\u202f440,40\xa0€").first).to_be_visible()
    margins = page.get_by_role("table").filter(has_text="Taux de marge")
    assert margins.get_by_role("rowheader").count() >= 2  # the families, also as figures
    page.screenshot(path=screenshots / "ledger-activity.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"rapport-activite-{YEAR}.pdf"
    assert download.path().read_bytes().startswith(b"%PDF")

    page.get_by_role("navigation", name="Pages de la comptabilité").get_by_role(
        "link", name="Marges par famille"
    ).click()
    expect(
        page.get_by_role("heading", name=f"Marges par famille · exercice {YEAR}")
    ).to_be_visible()
    page.screenshot(path=screenshots / "ledger-margins.png", full_page=True)


def test_the_audit_trail_is_searched_by_entity(sign_in, books, screenshots):
    page = sign_in(books.auditor)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Journal d'audit"
    ).click()
    expect(page.get_by_role("heading", name="Journal d'audit")).to_be_visible()

    page.get_by_label("Objet", exact=True).select_option(label="Écriture comptable")
    page.get_by_role("button", name="Filtrer").click()

    rows = page.get_by_role("row").filter(has_text="journal_entry.posted")
    assert rows.count() >= 3
    expect(rows.first.get_by_text("système")).to_be_visible()  # posted by the scheduled job
    assert page.get_by_role("row").filter(has_text="user.created").count() == 0
    page.screenshot(path=screenshots / "audit-trail.png", full_page=True)


def test_the_books_on_a_phone(sign_in, books, screenshots):
    page = sign_in(books.auditor, phone=True)
    page.goto("/ledger")

    expect(page.get_by_role("heading", name="Comptabilité", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Télécharger")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # tables scroll inside their frame, not the page
    page.screenshot(path=screenshots / "ledger-exports-phone.png", full_page=True)
