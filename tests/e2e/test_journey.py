"""The whole service in one story, in a real browser: a commune orders a Mairie Connectée
module, the purchasing staff approve and commission it, finance runs the monthly billing,
the commune downloads its invoice, and an auditor exports the FEC file with that invoice.
"""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from purchasing.billing.models import Invoice
from purchasing.fields import today_in_paris
from purchasing.formats import euros
from purchasing.ledger.services import post_pending_events
from purchasing.ledger.settings import settings_from_config
from tests.factories import make_member, make_user

MODULE = "MC-MESSAGERIE"
MODULE_NAME = "Boîte de messagerie professionnelle 50 Go"


def _accept_confirmations(page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_order_to_invoice_to_fec(live_server, sign_in, screenshots):
    with live_server.sessions() as session:
        member = make_member(session, name="Commune de Wissant", population=1400)
        member_user, _ = make_user(session, role="member", member=member)
        buyer, _ = make_user(session, role="purchasing")
        accountant, _ = make_user(session, role="finance")
        auditor, _ = make_user(session, role="auditor")
        session.commit()
    today = today_in_paris()

    # The commune browses the Mairie Connectée family, puts the module in its cart and
    # sends the order.
    commune = sign_in(member_user)
    commune.goto("/catalogue")
    expect(commune.get_by_role("heading", name="Catalogue", exact=True)).to_be_visible()
    commune.get_by_role("navigation", name="Familles du catalogue").get_by_role(
        "link", name="Mairie Connectée"
    ).click()
    expect(commune.get_by_role("heading", name="Catalogue · Mairie Connectée")).to_be_visible()
    commune.get_by_role("row").filter(has_text=MODULE).get_by_role("link", name=MODULE_NAME).click()
    expect(commune.get_by_role("heading", name=MODULE_NAME)).to_be_visible()
    commune.get_by_label(re.compile(r"^Quantité")).fill("2")
    commune.get_by_role("button", name="Ajouter au panier").click()
    expect(commune.get_by_role("heading", name="Mon panier")).to_be_visible()
    expect(commune.get_by_role("row").filter(has_text=MODULE_NAME)).to_be_visible()
    commune.get_by_label("Lieu de livraison ou de mise en service").fill("Mairie de Wissant")
    commune.get_by_role("button", name="Envoyer la commande").click()
    heading = commune.get_by_role("heading", name=re.compile(r"^Commande CMD-\d{4}-\d{6}$"))
    expect(heading).to_be_visible()
    order_number = heading.inner_text().removeprefix("Commande ")
    order_url = commune.url
    expect(commune.locator(".badge-submitted")).to_have_text("Envoyée à la centrale")
    commune.goto("/my/orders")
    expect(commune.get_by_role("link", name=order_number)).to_be_visible()
    commune.screenshot(path=screenshots / "journey-1-member-orders.png", full_page=True)

    # Purchasing approves it, sends the purchase order and commissions the mailboxes.
    staff = sign_in(buyer)
    _accept_confirmations(staff)
    staff.goto("/orders")
    staff.get_by_role("link", name=order_number).click()
    expect(staff.get_by_role("heading", name=f"Commande {order_number}")).to_be_visible()
    status = staff.locator(".page-head .badge")
    expect(status).to_have_text("À approuver")
    staff.get_by_role("button", name="Approuver").click()
    expect(status).to_have_text("Approuvée")
    staff.get_by_role("button", name="Envoyer aux fournisseurs").click()
    expect(status).to_have_text("Commandée")
    staff.get_by_role("button", name="Mise en service").click()
    expect(staff.get_by_text(f"Mis en service le {today:%d/%m/%Y}")).to_be_visible()
    expect(status).to_have_text("Livrée")
    staff.screenshot(path=screenshots / "journey-2-order-commissioned.png", full_page=True)
    # The commune sees its order delivered: its mailboxes are in service.
    commune.goto(order_url)
    expect(commune.locator(".badge-delivered")).to_have_text("Livrée")

    # Finance runs the billing of the month and waits for the run's status to say so.
    finance = sign_in(accountant)
    finance.goto("/billing-runs")
    finance.get_by_label("Mois facturé").fill(f"{today:%Y-%m}")
    finance.get_by_role("button", name="Lancer la facturation").click()
    expect(finance.locator(".page-head .badge")).to_have_text("Terminée", timeout=60_000)
    with live_server.sessions() as session:
        invoices = session.scalars(
            select(Invoice).where(Invoice.member_id == member.id, Invoice.series == "FA")
        ).all()
        assert len(invoices) == 1, [i.number for i in invoices]
        issued = invoices[0]
        assert issued.total_gross == issued.total_net + issued.total_vat > 0
        assert [(line.quantity, line.service_start) for line in issued.lines] == [(2, today)]
    invoice_number = issued.number
    row = finance.get_by_role("row").filter(has_text="Commune de Wissant")
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=re.compile(r"^FA-"))).to_have_text(invoice_number)
    expect(row).to_contain_text(euros(issued.total_gross))
    finance.screenshot(path=screenshots / "journey-3-billing-run.png", full_page=True)

    # The commune downloads its invoice: the PDF names it, the module and its own number.
    commune.goto("/my-invoices")
    with commune.expect_download() as download:
        commune.get_by_role("link", name=f"PDF de {invoice_number}").click()
    text = "\n".join(p.extract_text() for p in PdfReader(download.value.path()).pages)
    assert invoice_number in text
    assert "Commune de Wissant" in text
    assert "messagerie" in text.lower()

    # The nightly posting runs; the auditor exports the year's FEC and finds the invoice.
    with live_server.sessions() as session:
        post_pending_events(
            session, settings=settings_from_config(live_server.config), posted_by=None
        )
    audit = sign_in(auditor)
    audit.goto("/ledger")
    audit.get_by_label("Document").select_option(label="FEC (fichier des écritures comptables)")
    audit.get_by_label("Exercice", exact=True).select_option(str(today.year))
    with audit.expect_download() as download:
        audit.get_by_role("button", name="Télécharger").click()
    content = download.value.path().read_text(encoding="iso-8859-15")  # the FEC standard
    rows = list(csv.reader(io.StringIO(content), delimiter="\t"))
    assert len(rows[0]) == 18 and rows[0][0] == "JournalCode"
    invoice_rows = [row for row in rows[1:] if row[8] == invoice_number]  # PieceRef
    assert invoice_rows, f"no FEC line for {invoice_number}"
    debit = sum(float(row[11].replace(",", ".")) for row in invoice_rows)
    credit = sum(float(row[12].replace(",", ".")) for row in invoice_rows)
    assert round(debit, 2) == round(credit, 2) > 0
