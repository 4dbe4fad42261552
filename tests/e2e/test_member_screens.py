"""A member agent in a real browser: browses the catalogue with its FEDER aid, fills its
cart, orders, downloads the quote, follows its orders, subscriptions and adhesion; a
screenshot of each of its main pages (the catalogue also on a phone).

The data are the shipped catalogue, plus a backup module of our own that a programme in
force today aids, so that no other screen's invoices meet this programme.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from purchasing.catalog.models import Product, ProductFamily
from purchasing.fields import today_in_paris
from tests.documents import pdf_text
from tests.factories import make_member, make_order, make_product, make_programme, make_user

MEMBER_NAME = "Commune de Wierre-Effroy"
MODULE = "Sauvegarde externalisée des postes de la mairie"


@dataclass(frozen=True)
class Portal:
    agent: object
    #: An order already commissioned: the member's subscription.
    subscribed_order: str


@pytest.fixture(scope="module")
def portal(live_server) -> Portal:
    """A small commune, eligible to the FEDER aid, with a subscription in service."""
    today = today_in_paris()
    with live_server.sessions() as session:
        family = session.scalar(
            select(ProductFamily).where(ProductFamily.code == "mairie_connectee")
        )
        module = make_product(
            session,
            family=family,
            sku="E2E-SAUVEGARDE",
            name=MODULE,
            description="Copie chiffrée quotidienne des postes, conservée 30 jours.",
            unit="poste",
            cost="20.00",
            subsidy_eligible=True,
        )
        make_programme(
            session,
            products=[module],
            period_start=today - timedelta(days=60),
            period_end=today + timedelta(days=365),
        )
        member = make_member(
            session,
            name=MEMBER_NAME,
            population=714,
            chorus_engagement_required=True,
        )
        mailbox = session.scalar(select(Product).where(Product.sku == "MC-MESSAGERIE"))
        subscribed = make_order(
            session,
            member=member,
            lines=[{"product": mailbox, "quantity": 6, "delivery_site": "Mairie"}],
            status="delivered",
            order_date=today - timedelta(days=40),
            delivered_on=today - timedelta(days=30),
            engagement_number="EJ-2026-0031",
        )
        agent, _ = make_user(session, role="member", member=member)
        session.commit()
    return Portal(agent=agent, subscribed_order=subscribed.reference)


def _menu(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=label).click()


def test_member_orders_a_module_from_the_catalogue(portal, sign_in, screenshots):
    page = sign_in(portal.agent)

    _menu(page, "Catalogue")
    expect(page.get_by_role("heading", name="Catalogue", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Familles du catalogue").get_by_role(
        "link", name="Mairie Connectée"
    ).click()
    expect(page.get_by_role("heading", name="Catalogue · Mairie Connectée")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=MODULE)
    # 20,00 + 5,38 % = 21,08 € HT a month; 50 % of it is aided.
    expect(row).to_contain_text("21,08")
    expect(row).to_contain_text("\u221210,54")
    page.screenshot(path=screenshots / "member-catalogue.png", full_page=True)

    row.get_by_role("link", name=MODULE).click()
    expect(page.get_by_role("heading", name=MODULE)).to_be_visible()
    expect(page.get_by_text("Aide FEDER : \u221210,54")).to_be_visible()
    expect(page.get_by_text("Prix après aide")).to_contain_text("10,54")
    expect(page.get_by_text("Coût fournisseur")).to_have_count(0)
    page.screenshot(path=screenshots / "member-product.png", full_page=True)

    page.get_by_label("Quantité (poste)").fill("0")
    page.get_by_role("button", name="Ajouter au panier").click()
    expect(page.locator("#quantity-error")).to_be_visible()
    page.get_by_label("Quantité (poste)").fill("4")
    page.get_by_role("button", name="Ajouter au panier").click()

    expect(page.get_by_role("heading", name="Mon panier")).to_be_visible()
    cart_row = page.get_by_role("row").filter(has_text=MODULE)
    expect(cart_row).to_contain_text("84,32")  # 4 x 21,08 a month
    expect(cart_row).to_contain_text("\u221242,16")
    page.get_by_label("Lieu de livraison ou de mise en service").fill("Mairie, secrétariat")
    page.screenshot(path=screenshots / "member-cart.png", full_page=True)

    # The commune's invoices go through Chorus Pro: the engagement number is required.
    page.get_by_role("button", name="Envoyer la commande").click()
    expect(page.locator("#engagement_number-error")).to_be_visible()
    expect(page.get_by_label("Lieu de livraison ou de mise en service")).to_have_value(
        "Mairie, secrétariat"
    )
    page.get_by_label("N° d'engagement").fill("EJ-2026-0107")
    page.get_by_role("button", name="Envoyer la commande").click()

    heading = page.get_by_role("heading", name=re.compile(r"^Commande CMD-\d{4}-\d{6}$"))
    expect(heading).to_be_visible()
    reference = heading.inner_text().removeprefix("Commande ")
    expect(page.get_by_text("Envoyée à la centrale").first).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=MODULE)).to_contain_text("Mairie, secrétariat")
    page.screenshot(path=screenshots / "member-order.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le devis (PDF)").click()
    quote = pdf_text(download.value.path().read_bytes())
    assert reference in quote and MODULE in quote and "EJ-2026-0107" in quote

    _menu(page, "Mes commandes")
    expect(page.get_by_role("heading", name="Mes commandes")).to_be_visible()
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    expect(page.get_by_role("link", name=portal.subscribed_order)).to_be_visible()
    page.screenshot(path=screenshots / "member-orders.png", full_page=True)


def test_member_follows_its_subscriptions_and_adhesion(portal, sign_in, screenshots):
    page = sign_in(portal.agent)

    _menu(page, "Mes abonnements")
    expect(page.get_by_role("heading", name="Mes abonnements")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=portal.subscribed_order)
    expect(row).to_contain_text("Boîte de messagerie")
    expect(row).to_contain_text("En service")
    page.screenshot(path=screenshots / "member-subscriptions.png", full_page=True)

    _menu(page, "Mon adhésion")
    expect(page.get_by_role("heading", name="Mon adhésion")).to_be_visible()
    expect(page.get_by_text("Votre collectivité peut commander.")).to_be_visible()
    expect(page.get_by_text("Gratuite", exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "member-adhesion.png", full_page=True)


def test_member_browses_the_catalogue_on_a_phone(portal, sign_in, screenshots):
    page = sign_in(portal.agent, phone=True)

    page.goto("/catalogue/mairie_connectee")

    expect(page.get_by_role("heading", name="Catalogue · Mairie Connectée")).to_be_visible()
    expect(page.get_by_text(MODULE)).to_be_visible()
    page.screenshot(path=screenshots / "member-catalogue-phone.png", full_page=True)
