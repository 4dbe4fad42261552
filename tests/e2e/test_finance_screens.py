"""Finance and a member's invoices in a real browser: invoices, payments, credit notes,
the monthly billing run, receivables, FEDER programmes; a screenshot of each main page.

The invoices here are of 2025, a fiscal year of their own: numbers follow issue dates per
series and year, and the other screens' invoices are of 2026.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from purchasing.billing import run, services
from purchasing.billing.models import DocumentKind, Invoice
from purchasing.catalog.pricing import Billing
from tests.documents import pdf_text
from tests.factories import make_member, make_order, make_product, make_user
from tests.factories.billing import billing_settings

YEAR = 2025


@dataclass(frozen=True)
class Ledger:
    finance: object
    member_user: object
    member_name: str
    invoice_id: int
    invoice_number: str
    #: the member whose February is left for the billing run of the browser
    pending_member_name: str


@pytest.fixture(scope="module")
def ledger(live_server) -> Ledger:
    """A commune invoiced for January 2025 and partly paid; another with a delivery of
    February 2025 not invoiced yet."""
    with live_server.sessions() as session:
        study = make_product(
            session,
            name="Étude de faisabilité vidéoprotection",
            billing=Billing.ONE_OFF,
            cost="1200.00",
            unit="étude",
        )
        camera = make_product(
            session,
            name="Caméra dôme extérieure",
            billing=Billing.ONE_OFF,
            cost="640.00",
            unit="caméra",
        )
        member = make_member(session, name="Commune de Saint-Omer-Capelle", population=1_587)
        make_order(
            session,
            member=member,
            lines=[(study, 1), (camera, 3)],
            status="delivered",
            order_date=date(YEAR, 1, 6),
            delivered_on=date(YEAR, 1, 20),
            engagement_number="EJ-2025-0042",
        )
        (invoice,) = run.invoice_member(
            session,
            member.id,
            run.periods.month(YEAR, 1),
            settings=billing_settings(),
            issued_by=None,
            issue_date=date(YEAR, 1, 31),
        )
        services.record_payment(
            session,
            invoice.id,
            amount=invoice.amount_due / 2,
            paid_on=date(YEAR, 3, 3),
            reference="Mandat 2025-117",
            recorded_by=None,
        )
        pending = make_member(session, name="Commune de Tilques", population=1_090)
        make_order(
            session,
            member=pending,
            lines=[(camera, 2)],
            status="delivered",
            order_date=date(YEAR, 2, 3),
            delivered_on=date(YEAR, 2, 17),
        )
        finance, _ = make_user(session, role="finance")
        member_user, _ = make_user(session, role="member", member=member)
        session.commit()
        return Ledger(
            finance=finance,
            member_user=member_user,
            member_name=member.name,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            pending_member_name=pending.name,
        )


def open_menu(page: Page, label: str) -> None:
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_role("link", name=label, exact=True).click()


def test_finance_reads_an_invoice_records_a_payment_and_prepares_a_credit_note(
    sign_in, ledger, screenshots
):
    page = sign_in(ledger.finance)
    open_menu(page, "Factures")

    expect(page.get_by_role("heading", name="Factures et avoirs")).to_be_visible()
    page.get_by_label("Membre").select_option(label=ledger.member_name)
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("link", name=ledger.invoice_number, exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "finance-invoices.png", full_page=True)

    page.get_by_role("link", name=ledger.invoice_number, exact=True).click()
    expect(page.get_by_role("heading", name=f"Facture {ledger.invoice_number}")).to_be_visible()
    expect(page.get_by_text("Caméra dôme extérieure")).to_be_visible()
    expect(page.get_by_text("Mandat 2025-117")).to_be_visible()
    page.screenshot(path=screenshots / "finance-invoice.png", full_page=True)

    page.get_by_role("link", name="Enregistrer un paiement").click()
    page.get_by_label("Montant reçu").fill("999 999,00")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    amount = page.get_by_label("Montant reçu")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#amount-error")).to_contain_text("restant dus sur")
    expect(amount).to_have_value("999 999,00")
    page.screenshot(path=screenshots / "finance-payment.png", full_page=True)

    page.get_by_role("link", name=f"← Facture {ledger.invoice_number}").click()
    page.get_by_role("link", name="Émettre un avoir").click()
    expect(
        page.get_by_role("heading", name=f"Avoir sur la facture {ledger.invoice_number}")
    ).to_be_visible()
    page.get_by_label("Les lignes cochées ci-dessous").check()
    page.get_by_role("button", name="Émettre l'avoir").click()  # no reason, no line
    expect(page.locator("#reason-error")).to_have_text("Ce champ est obligatoire.")
    expect(page.locator("#lines-error")).to_have_text("Cochez au moins une ligne à créditer.")
    page.screenshot(path=screenshots / "finance-credit-note.png", full_page=True)


def test_finance_runs_the_billing_of_a_month_and_opens_what_it_issued(sign_in, ledger, screenshots):
    page = sign_in(ledger.finance)
    open_menu(page, "Facturation mensuelle")

    expect(page.get_by_role("heading", name="Facturation mensuelle")).to_be_visible()
    page.get_by_label("Mois facturé").fill(f"{YEAR}-02")
    page.get_by_label("Date d'émission des factures").fill(f"{YEAR}-02-28")
    page.get_by_role("button", name="Lancer la facturation").click()

    expect(page.get_by_role("heading", name=f"Facturation {YEAR}-02")).to_be_visible()
    # The run works in the background; its page reloads itself until it is done.
    expect(page.locator(".badge", has_text="Terminée")).to_be_visible(timeout=60_000)
    issued = page.get_by_role("link", name=re.compile(rf"^FA-{YEAR}-\d{{6}}$"))
    expect(issued).to_have_count(1)
    expect(page.get_by_role("cell", name=ledger.pending_member_name)).to_be_visible()
    page.screenshot(path=screenshots / "finance-billing-run.png", full_page=True)

    page.get_by_role("link", name="← Facturation mensuelle").click()
    expect(page.get_by_role("link", name=f"{YEAR}-02")).to_be_visible()
    page.screenshot(path=screenshots / "finance-billing-runs.png", full_page=True)


def test_finance_reads_the_receivables_by_age(sign_in, ledger, screenshots):
    page = sign_in(ledger.finance)
    open_menu(page, "Créances")

    page.get_by_label("Situation au").fill(f"{YEAR}-06-30")
    page.get_by_role("button", name="Filtrer").click()

    expect(page.get_by_role("heading", name="Créances au 30/06/2025")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=ledger.invoice_number)
    expect(row).to_contain_text("Plus de 90 jours")
    page.screenshot(path=screenshots / "finance-receivables.png", full_page=True)


def test_finance_follows_the_feder_programme(sign_in, ledger, screenshots):
    page = sign_in(ledger.finance)
    open_menu(page, "FEDER")

    expect(page.get_by_role("heading", name="Programmes FEDER")).to_be_visible()
    programme = page.get_by_role("row").filter(has_text="FEDER-MC-2024")
    expect(programme).to_contain_text("370\u202f835,54\u00a0€")  # the syndicat's envelope
    page.screenshot(path=screenshots / "finance-programmes.png", full_page=True)

    page.get_by_role("link", name="FEDER-MC-2024").click()
    expect(page.get_by_role("heading", name="FEDER-MC-2024")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("Pas-de-Calais"))).to_be_visible()
    page.screenshot(path=screenshots / "finance-programme.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile(r"^État au .* \(PDF\)$")).click()
    statement = download_info.value
    assert statement.suggested_filename.startswith("etat-FEDER-MC-2024-")
    assert "État de la subvention" in pdf_text(statement.path().read_bytes())

    page.get_by_role("link", name="Enregistrer un versement reçu").click()
    page.get_by_label("Montant reçu").fill("1 000 000,00")
    page.get_by_label("Référence du versement").fill("VIR-TROP")
    page.get_by_role("button", name="Enregistrer le versement").click()
    expect(page.locator("#amount-error")).to_contain_text("peuvent encore être reçus")
    expect(page.get_by_label("Référence du versement")).to_have_value("VIR-TROP")
    page.screenshot(path=screenshots / "finance-feder-receipt-refused.png", full_page=True)
    page.get_by_role("link", name="Annuler").click()
    page.get_by_role("link", name="Enregistrer un versement reçu").click()
    expect(page.get_by_role("heading", name="Versement reçu du financeur")).to_be_visible()
    page.screenshot(path=screenshots / "finance-feder-receipt.png", full_page=True)

    page.get_by_role("link", name="Annuler").click()
    page.get_by_role("link", name="Enregistrer un reversement").click()
    expect(page.get_by_role("heading", name="Reversement à un partenaire")).to_be_visible()
    page.screenshot(path=screenshots / "finance-feder-reversal.png", full_page=True)
    page.get_by_role("button", name="Enregistrer le reversement").click()
    expect(page.locator(".error").first).to_be_visible()
    expect(page.get_by_text("Missing data")).to_have_count(0)  # refusals read in French
    page.screenshot(path=screenshots / "finance-feder-reversal-refused.png", full_page=True)


def test_a_member_downloads_its_invoice_on_a_laptop_and_a_phone(sign_in, ledger, screenshots):
    page = sign_in(ledger.member_user)
    open_menu(page, "Mes factures")

    expect(page.get_by_role("heading", name="Mes factures")).to_be_visible()
    expect(page.get_by_role("link", name=ledger.invoice_number, exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "finance-my-invoices.png", full_page=True)

    page.get_by_role("link", name=ledger.invoice_number, exact=True).click()
    expect(page.get_by_role("heading", name=f"Facture {ledger.invoice_number}")).to_be_visible()
    page.screenshot(path=screenshots / "finance-my-invoice.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF").click()
    pdf = download_info.value
    assert pdf.suggested_filename == f"{ledger.invoice_number}.pdf"
    assert ledger.invoice_number in pdf_text(pdf.path().read_bytes())

    phone = sign_in(ledger.member_user, phone=True)
    phone.goto("/my-invoices")
    expect(phone.get_by_role("heading", name="Mes factures")).to_be_visible()
    phone.screenshot(path=screenshots / "finance-my-invoices-phone.png", full_page=True)


def test_finance_opens_a_draft_invoice_and_its_issue_form(
    live_server, sign_in, ledger, screenshots
):
    with live_server.sessions() as session:
        member = make_member(session, name="Commune de Moulle", population=1_130)
        study = make_product(
            session, name="Audit de cybersécurité", billing=Billing.ONE_OFF, cost="900.00"
        )
        # Delivered in June: the billing run of February, in another test, leaves it alone.
        make_order(
            session,
            member=member,
            lines=[(study, 1)],
            status="delivered",
            order_date=date(YEAR, 6, 2),
            delivered_on=date(YEAR, 6, 10),
        )
        ((_engagement, lines),) = run.pending_lines(
            session, member.id, run.periods.month(YEAR, 6)
        ).items()
        draft = Invoice(kind=DocumentKind.INVOICE, series="FA", member_id=member.id)
        for position, line in enumerate(lines, start=1):
            line.position = position
            draft.lines.append(line)
        session.add(draft)
        session.commit()
        draft_id = draft.id
    try:
        page = sign_in(ledger.finance)

        page.goto(f"/invoices/{draft_id}")
        expect(page.get_by_role("heading", name="Émettre le brouillon")).to_be_visible()
        expect(page.get_by_text("Audit de cybersécurité")).to_be_visible()
        expect(page.get_by_role("button", name="Émettre la facture")).to_be_visible()
        page.screenshot(path=screenshots / "finance-draft-invoice.png", full_page=True)
    finally:
        # The served database is shared by the browser tests: a draft left holding the
        # delivery would stand in the way of the journey's billing run.
        with live_server.sessions() as session:
            session.delete(session.get(Invoice, draft_id))
            session.commit()
