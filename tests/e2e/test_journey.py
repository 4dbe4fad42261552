"""The whole service in one story, in a real browser: a commune orders a Mairie Connectée
module, the purchasing staff approve and commission it, finance runs the monthly billing,
the commune downloads its invoice, and an auditor exports the FEC file with that invoice.
"""

from __future__ import annotations

import csv
import io
import re

from pypdf import PdfReader

from purchasing.fields import today_in_paris
from purchasing.ledger.services import post_pending_events
from purchasing.ledger.settings import settings_from_config
from tests.factories import make_member, make_user

MODULE = "MC-MESSAGERIE"


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

    # The commune puts the module in its cart and sends the order.
    commune = sign_in(member_user)
    commune.goto(f"/catalogue/products/{MODULE}")
    commune.get_by_label(re.compile(r"^Quantité")).fill("2")
    commune.get_by_role("button", name="Ajouter au panier").click()
    commune.goto("/cart")
    commune.get_by_label("Lieu de livraison ou de mise en service").fill("Mairie de Wissant")
    commune.get_by_role("button", name="Envoyer la commande").click()
    commune.goto("/my/orders")
    order_link = commune.get_by_role("link", name=re.compile(r"^CMD-"))
    order_number = order_link.first.inner_text().strip()
    commune.screenshot(path=screenshots / "journey-1-member-orders.png", full_page=True)

    # Purchasing approves it, sends the purchase order and commissions the mailboxes.
    staff = sign_in(buyer)
    _accept_confirmations(staff)
    staff.goto("/orders")
    staff.get_by_role("link", name=order_number).click()
    staff.get_by_role("button", name="Approuver").click()
    staff.get_by_role("button", name="Envoyer aux fournisseurs").click()
    staff.get_by_role("button", name="Mise en service").click()
    assert staff.get_by_text(f"Mis en service le {today:%d/%m/%Y}").is_visible()
    staff.screenshot(path=screenshots / "journey-2-order-commissioned.png", full_page=True)

    # Finance runs the billing of the month and waits for its end.
    finance = sign_in(accountant)
    finance.goto("/billing-runs")
    finance.get_by_label("Mois facturé").fill(f"{today:%Y-%m}")
    finance.get_by_role("button", name="Lancer la facturation").click()
    finance.get_by_text("Terminée").first.wait_for(timeout=60_000)
    invoice_number = finance.get_by_role("link", name=re.compile(r"^FA-")).first.inner_text()
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
