"""The purchasing staff's screens in a real browser: members, orders, purchase orders,
supplier invoices; each main page is saved as a screenshot."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from tests.factories import (
    invoice_in_full,
    make_member,
    make_order,
    make_product,
    make_supplier,
    make_user,
)


@dataclass(frozen=True)
class Desk:
    """What the purchasing staff find on their desk."""

    staff: object
    member_id: int
    member_name: str
    waiting_id: int
    waiting_reference: str
    sent_purchase_order_id: int
    sent_purchase_order_number: str
    invoiced_purchase_order_number: str


@pytest.fixture(scope="module")
def desk(live_server) -> Desk:
    with live_server.sessions() as session:
        supplier = make_supplier(session, name="Vidéo Nord SARL")
        camera = make_product(
            session,
            name="Caméra dôme extérieure",
            unit="caméra",
            billing=Billing.ONE_OFF,
            cost="640.00",
            supplier=supplier,
        )
        mailbox = make_product(
            session,
            name="Messagerie collaborative",
            unit="boîte",
            billing=Billing.MONTHLY,
            cost="4.75",
            setup_fee_cost="90.00",
        )
        member = make_member(session, name="Commune de Wimereux", population=7_036)
        for name in ("Commune d'Ambleteuse", "Communauté de communes de la Terre des 2 Caps"):
            make_member(session, name=name)
        waiting = make_order(
            session,
            member=member,
            lines=[(camera, 3), (mailbox, 12)],
            status="submitted",
            engagement_number="EJ-2026-0153",
        )
        sent = make_order(session, member=member, lines=[(camera, 2)], status="ordered")
        invoiced = make_order(session, member=member, lines=[(camera, 1)], status="delivered")
        invoice_in_full(session, invoiced.purchase_orders[0], number="VN-2026-0007")
        staff, _ = make_user(session, role="purchasing")
        session.commit()
        return Desk(
            staff=staff,
            member_id=member.id,
            member_name=member.name,
            waiting_id=waiting.id,
            waiting_reference=waiting.reference,
            sent_purchase_order_id=sent.purchase_orders[0].id,
            sent_purchase_order_number=sent.purchase_orders[0].number,
            invoiced_purchase_order_number=invoiced.purchase_orders[0].number,
        )


def _accept_confirmations(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_purchasing_members_list_and_member_page(desk, sign_in, screenshots):
    page = sign_in(desk.staff)
    page.goto("/members?q=Wimereux")
    expect(page.get_by_role("heading", name="Membres")).to_be_visible()
    page.get_by_role("link", name=desk.member_name).click()

    expect(page.get_by_role("heading", name=desk.member_name)).to_be_visible()
    expect(page.get_by_role("heading", name="Adhésion", exact=True)).to_be_visible()
    expect(page.get_by_text("7\u202f036 habitants")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-member.png", full_page=True)

    page.goto("/members")
    expect(page.get_by_role("link", name=desk.member_name)).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-members.png", full_page=True)

    page.goto(f"/members/{desk.member_id}/adhesion/suspend")
    page.get_by_role("button", name="Suspendre").click()
    expect(page.locator("#reason-error")).to_have_text("Ce champ est obligatoire.")
    page.screenshot(path=screenshots / "purchasing-adhesion-refused.png", full_page=True)


def test_purchasing_approves_sends_and_commissions_an_order(desk, sign_in, screenshots):
    page = sign_in(desk.staff)
    _accept_confirmations(page)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Commandes"
    ).click()
    expect(page.get_by_role("heading", name="Commandes")).to_be_visible()
    expect(page.get_by_role("link", name=desk.waiting_reference)).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-orders.png", full_page=True)

    page.get_by_role("link", name=desk.waiting_reference).click()
    expect(page.get_by_role("heading", name=f"Commande {desk.waiting_reference}")).to_be_visible()
    # 3 cameras bought 640,00 € and sold 674,43 € each (margin 5,38 %).
    expect(page.get_by_role("cell", name="2\u202f023,29\u00a0€").first).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-order.png", full_page=True)

    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("status")).to_contain_text("bons de commande fournisseurs sont émis")
    page.get_by_role("button", name="Envoyer aux fournisseurs").click()
    expect(page.get_by_role("status")).to_contain_text("envoyée")

    page.get_by_role("button", name="Mise en service").click()
    today = today_in_paris().strftime("%d/%m/%Y")
    expect(page.get_by_text(f"Mis en service le {today}")).to_be_visible()
    expect(page.locator(".page-head .badge")).to_have_text("Partiellement livrée")

    page.get_by_role("button", name="Livraison").click()
    expect(page.locator(".page-head .badge")).to_have_text("Livrée")
    page.screenshot(path=screenshots / "purchasing-order-delivered.png", full_page=True)


def test_purchasing_orders_on_a_phone(desk, sign_in, screenshots):
    page = sign_in(desk.staff, phone=True)
    page.goto("/orders?status=")
    expect(page.get_by_role("heading", name="Commandes")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-orders-phone.png", full_page=True)


def test_purchasing_records_a_supplier_invoice_and_decides_its_mismatch(desk, sign_in, screenshots):
    page = sign_in(desk.staff)
    _accept_confirmations(page)
    page.goto("/purchase-orders")
    expect(page.get_by_role("heading", name="Bons de commande fournisseurs")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-purchase-orders.png", full_page=True)

    page.get_by_role("link", name=desk.sent_purchase_order_number).click()
    expect(page.get_by_role("heading", name="Fournisseur", exact=True)).to_be_visible()
    expect(page.get_by_text("Vidéo Nord SARL")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-purchase-order.png", full_page=True)

    page.get_by_role("link", name="Enregistrer une facture fournisseur").click()
    expect(page.get_by_role("heading", name="Enregistrer une facture fournisseur")).to_be_visible()
    page.get_by_label("N° de la facture du fournisseur").fill("VN-2026-0011")
    # The supplier billed 660,00 € a camera instead of the 640,00 € ordered.
    page.get_by_label(re.compile("Coût unitaire facturé")).fill("660,00")
    page.get_by_label(re.compile("Montant HT facturé")).fill("1 320,00")
    page.get_by_label("Total HT").fill("1 320,00")
    page.get_by_label("Total TVA").fill("264,00")
    page.get_by_label("Total TTC").fill("1 584,00")
    page.screenshot(path=screenshots / "purchasing-supplier-invoice-new.png", full_page=True)
    page.get_by_role("button", name="Enregistrer la facture").click()

    expect(page.get_by_role("heading", name="Facture VN-2026-0011")).to_be_visible()
    # The mismatch reason, in French with French amounts.
    expect(
        page.get_by_text("Coût unitaire 660,00\u00a0€ différent de celui commandé (640,00\u00a0€).")
    ).to_be_visible()
    expect(page.get_by_text("differs from")).to_have_count(0)
    page.screenshot(path=screenshots / "purchasing-supplier-invoice.png", full_page=True)

    page.get_by_label("Motif de la décision").fill("Hausse du prix notifiée par avenant n° 2")
    page.get_by_role("button", name="Accepter l'écart").click()
    expect(page.locator(".page-head .badge")).to_have_text("Écart accepté")

    page.goto("/supplier-invoices")
    expect(page.get_by_role("heading", name="Factures fournisseurs")).to_be_visible()
    expect(page.get_by_role("link", name="VN-2026-0007")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-supplier-invoices.png", full_page=True)


def test_purchasing_creates_a_member_activates_its_adhesion_and_reads_its_subscriptions(
    desk, live_server, sign_in, screenshots
):
    with live_server.sessions() as session:
        applicant = make_member(session, name="Commune d'Audinghen", adhesion_status="requested")
        session.commit()
        applicant_id = applicant.id
    page = sign_in(desk.staff)

    page.goto("/members/new")
    expect(page.get_by_role("heading", name="Nouveau membre")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-member-new.png", full_page=True)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator(".error").first).to_be_visible()
    expect(page.get_by_text("Missing data")).to_have_count(0)  # refusals read in French
    page.screenshot(path=screenshots / "purchasing-member-new-refused.png", full_page=True)

    page.goto(f"/members/{applicant_id}/adhesion/activate")
    expect(page.get_by_role("heading", name="Activer l'adhésion")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-adhesion-activate.png", full_page=True)

    page.goto(f"/members/{desk.member_id}/subscriptions")
    expect(page.get_by_role("heading", name=f"Abonnements de {desk.member_name}")).to_be_visible()
    page.screenshot(path=screenshots / "purchasing-member-subscriptions.png", full_page=True)
