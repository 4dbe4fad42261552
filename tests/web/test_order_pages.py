"""A member agent's cart and order form, its orders and its subscriptions, in its browser."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.members.models import AdhesionStatus
from purchasing.orders.models import Order, OrderStatus
from tests.documents import pdf_text
from tests.factories import (
    catalog_family,
    make_member,
    make_order,
    make_product,
    make_programme,
)


@pytest.fixture
def products(session):
    """A monthly mailbox at 10,54 € HT (cost 10 + 5,38 %), a one-off camera at 1 250,00 €."""
    digital = catalog_family(session, "mairie_connectee")
    cameras = catalog_family(session, "video_protection")
    return {
        "mailbox": make_product(
            session, family=digital, sku="MC-BOX", name="Boîte de messagerie", cost="10.00"
        ),
        "camera": make_product(
            session,
            family=cameras,
            sku="VP-CAM",
            name="Caméra dôme",
            unit="caméra",
            billing=Billing.ONE_OFF,
            cost="1000.00",
            price="1250.00",
        ),
    }


def _orders_of(session, member) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.member_id == member.id)))


def _fill_cart(browser, *items):
    for sku, quantity in items:
        answer = browser.post("/cart/items", {"sku": sku, "quantity": quantity})
        assert answer.status_code == 302, answer.text


# --- The cart -------------------------------------------------------------------------


class TestCart:
    def test_products_added_from_the_catalogue_are_priced_in_the_cart(
        self, pages_as, session, products
    ):
        browser = pages_as("member", member=make_member(session))

        _fill_cart(browser, ("MC-BOX", "3"), ("VP-CAM", "1,5"))
        page = browser.get("/cart")

        assert page.status_code == 200
        assert "Boîte de messagerie" in page.text and "Caméra dôme" in page.text
        assert 'value="1,5"' in page.text  # the quantity as a French agent reads it
        assert "31,62\u00a0€" in page.text  # 3 x 10,54, a month
        assert "1\u202f875,00\u00a0€" in page.text  # 1,5 x 1 250,00
        # Totals per rhythm, VAT on top: 1 875,00 + 375,00 once; 31,62 + 6,32 a month.
        assert "2\u202f250,00\u00a0€" in page.text and "37,94\u00a0€" in page.text

    def test_the_cart_shows_the_aid_its_lines_would_get(self, pages_as, session, products):
        today = today_in_paris()
        site = make_product(
            session,
            family=catalog_family(session, "mairie_connectee"),
            sku="MC-WEB",
            name="Site internet",
            cost="10.00",
            subsidy_eligible=True,
        )
        make_programme(
            session,
            products=[site],
            period_start=today - timedelta(days=10),
            period_end=today + timedelta(days=100),
        )
        browser = pages_as("member", member=make_member(session, population=640))

        _fill_cart(browser, ("MC-WEB", "3"), ("VP-CAM", "1"))
        page = browser.get("/cart").text

        assert "\u221215,81\u00a0€" in page  # half of 3 x 10,54 = 31,62; the camera gets none
        assert page.count('class="aid"') == 1

    def test_adding_a_product_again_adds_to_its_quantity(self, pages_as, session, products):
        browser = pages_as("member", member=make_member(session))
        _fill_cart(browser, ("MC-BOX", "2"), ("MC-BOX", "3"))
        assert 'value="5"' in browser.get("/cart").text

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            ("0", "Saisissez une quantité supérieure à 0."),
            ("deux", "Saisissez un nombre."),
            ("1,2345", "Au plus 3 décimales."),
            ("", "Ce champ est obligatoire."),
        ],
    )
    def test_a_bad_quantity_is_refused_next_to_its_box(
        self, pages_as, session, products, typed, message
    ):
        browser = pages_as("member", member=make_member(session))

        answer = browser.post("/cart/items", {"sku": "MC-BOX", "quantity": typed})

        assert answer.status_code == 422
        assert 'id="quantity-error"' in answer.text and message in answer.text
        assert f'value="{typed}"' in answer.text  # what was typed is kept
        assert "Votre panier est vide" in browser.get("/cart").text

    def test_a_total_beyond_what_a_line_holds_is_refused(self, pages_as, session, products):
        browser = pages_as("member", member=make_member(session))
        _fill_cart(browser, ("MC-BOX", "999999999"))

        answer = browser.post("/cart/items", {"sku": "MC-BOX", "quantity": "1"})

        assert answer.status_code == 422 and 'id="quantity-error"' in answer.text
        assert 'value="999\u202f999\u202f999"' in browser.get("/cart").text

    def test_an_unknown_product_answers_404(self, pages_as, session, products):
        browser = pages_as("member", member=make_member(session))
        assert browser.post("/cart/items", {"sku": "NOPE", "quantity": "1"}).status_code == 404

    def test_a_quantity_is_changed_or_refused_on_its_line(self, pages_as, session, products):
        browser = pages_as("member", member=make_member(session))
        _fill_cart(browser, ("MC-BOX", "2"), ("VP-CAM", "1"))

        refused = browser.post("/cart/items/MC-BOX", {"quantity": "-1"})
        assert refused.status_code == 422
        assert 'aria-describedby="q-0-error"' in refused.text and 'value="-1"' in refused.text
        assert 'value="2"' in browser.get("/cart").text  # unchanged

        assert browser.post("/cart/items/MC-BOX", {"quantity": "4"}).status_code == 302
        assert 'value="4"' in browser.get("/cart").text

    def test_a_product_is_removed_from_the_cart(self, pages_as, session, products):
        browser = pages_as("member", member=make_member(session))
        _fill_cart(browser, ("MC-BOX", "2"), ("VP-CAM", "1"))

        assert browser.post("/cart/items/VP-CAM/remove").status_code == 302

        page = browser.get("/cart").text
        assert "/catalogue/products/MC-BOX" in page
        assert "/catalogue/products/VP-CAM" not in page


# --- Ordering the cart ----------------------------------------------------------------


class TestOrderForm:
    def test_the_cart_is_ordered_and_sent_to_the_centre(self, pages_as, session, products):
        member = make_member(session)
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "3"), ("VP-CAM", "1"))

        answer = browser.post(
            "/cart/order",
            {
                "engagement_number": "EJ-2026-153",
                "delivery_site": "Mairie annexe",
                "note": "Livrer le matin",
                "intent": "submit",
            },
        )

        assert answer.status_code == 302
        (order,) = _orders_of(session, member)
        assert answer.headers["Location"].endswith(f"/my/orders/{order.id}")
        assert order.status is OrderStatus.SUBMITTED
        assert (order.engagement_number, order.note) == ("EJ-2026-153", "Livrer le matin")
        assert [(line.sku, line.quantity, line.delivery_site) for line in order.lines] == [
            ("MC-BOX", Decimal("3"), "Mairie annexe"),
            ("VP-CAM", Decimal("1"), "Mairie annexe"),
        ]
        assert order.lines[0].sale_price == Decimal("10.54")  # the prices of the day
        assert "Votre panier est vide" in browser.get("/cart").text

    def test_the_cart_may_be_kept_as_a_draft_order(self, pages_as, session, products):
        member = make_member(session)
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "1"))

        assert browser.post("/cart/order", {"intent": "draft"}).status_code == 302

        (order,) = _orders_of(session, member)
        assert order.status is OrderStatus.DRAFT

    def test_missing_engagement_number_is_refused_next_to_its_box(
        self, pages_as, session, products
    ):
        member = make_member(session, chorus_engagement_required=True)
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "1"))

        answer = browser.post(
            "/cart/order", {"delivery_site": "École Jules-Ferry", "intent": "submit"}
        )

        assert answer.status_code == 422
        assert 'id="engagement_number-error"' in answer.text
        assert "indique son numéro d&#39;engagement sur les factures Chorus Pro" in answer.text
        assert "needs its engagement number" not in answer.text
        assert 'value="École Jules-Ferry"' in answer.text  # what was typed is kept
        assert _orders_of(session, member) == []  # no draft left behind
        assert "Boîte de messagerie" in browser.get("/cart").text  # the cart is kept

    def test_a_member_whose_adhesion_is_suspended_cannot_order(self, pages_as, session, products):
        member = make_member(session, adhesion_status=AdhesionStatus.SUSPENDED)
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "1"))

        answer = browser.post("/cart/order", {"intent": "submit"})

        assert answer.status_code == 422
        assert "pas pu être passée" in answer.text
        assert "Seul un membre actif peut commander" in answer.text
        assert "only an active member" not in answer.text
        assert _orders_of(session, member) == []

    def test_a_line_of_a_domain_not_joined_is_refused_on_its_line(
        self, pages_as, session, products
    ):
        member = make_member(session, service_domains=["mairie_connectee"])
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "1"), ("VP-CAM", "1"))

        answer = browser.post("/cart/order", {"intent": "draft"})

        assert answer.status_code == 422
        assert 'id="q-1-error"' in answer.text and "Vidéoprotection" in answer.text
        assert 'id="q-0-error"' not in answer.text
        assert _orders_of(session, member) == []

    def test_a_product_withdrawn_since_it_was_added_is_flagged_and_refused(
        self, pages_as, session, products
    ):
        member = make_member(session)
        browser = pages_as("member", member=member)
        _fill_cart(browser, ("MC-BOX", "1"), ("VP-CAM", "1"))
        products["camera"].active = False
        session.commit()

        assert "Ce produit n&#39;est plus proposé." in browser.get("/cart").text
        answer = browser.post("/cart/order", {"intent": "submit"})

        assert answer.status_code == 422
        assert 'id="q-1-error"' in answer.text and "n&#39;est plus proposé." in answer.text
        assert _orders_of(session, member) == []

    def test_an_empty_cart_orders_nothing(self, pages_as, session, products):
        member = make_member(session)
        answer = pages_as("member", member=member).post("/cart/order", {"intent": "submit"})
        assert answer.status_code == 302
        assert _orders_of(session, member) == []


# --- My orders ------------------------------------------------------------------------


class TestMyOrders:
    def test_list_shows_only_my_orders_filtered_and_paginated(self, pages_as, session, products):
        member = make_member(session)
        drafts = [make_order(session, member=member, lines=[products["mailbox"]]) for _ in "ab"]
        submitted = make_order(
            session, member=member, lines=[(products["camera"], 2)], status="submitted"
        )
        theirs = make_order(session, lines=[products["camera"]], status="submitted")
        browser = pages_as("member", member=member)

        everything = browser.get("/my/orders").text
        assert all(order.reference in everything for order in [*drafts, submitted])
        assert theirs.reference not in everything
        assert "2\u202f500,00\u00a0€" in everything  # 2 cameras, one-off, before VAT

        only_submitted = browser.get("/my/orders?status=submitted").text
        assert submitted.reference in only_submitted
        assert drafts[0].reference not in only_submitted

        first = browser.get("/my/orders?per_page=2").text
        assert "3 résultats · page 1 sur 2" in first
        second = browser.get("/my/orders?per_page=2&page=2").text
        assert sum(order.reference in second for order in [*drafts, submitted]) == 1

    def test_order_page_shows_lines_totals_and_history(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(
            session,
            member=member,
            lines=[{"product": products["mailbox"], "quantity": 3, "delivery_site": "Mairie"}],
            status="approved",
            engagement_number="EJ-77",
        )

        page = pages_as("member", member=member).get(f"/my/orders/{order.id}")

        assert page.status_code == 200
        assert order.reference in page.text and "Validée par la centrale" in page.text
        assert "Boîte de messagerie" in page.text and "EJ-77" in page.text
        assert "31,62\u00a0€" in page.text and "37,94\u00a0€" in page.text
        assert "Envoyée à la centrale" in page.text and "Commande créée" in page.text
        # Approved: no quote any more, and the member may no longer cancel it here.
        assert "Télécharger le devis" not in page.text
        assert "Annuler la commande" not in page.text

    def test_another_members_order_answers_404(self, pages_as, session, products):
        theirs = make_order(session, lines=[products["mailbox"]])
        browser = pages_as("member", member=make_member(session))
        assert browser.get(f"/my/orders/{theirs.id}").status_code == 404
        assert browser.get(f"/my/orders/{theirs.id}/quote.pdf").status_code == 404
        assert browser.post(f"/my/orders/{theirs.id}/cancel", {"reason": "x"}).status_code == 404
        assert browser.post(f"/my/orders/{theirs.id}/submit").status_code == 404
        assert theirs.status is OrderStatus.DRAFT

    def test_an_unknown_order_says_so_in_french_never_in_the_services_english(
        self, pages_as, session
    ):
        browser = pages_as("member", member=make_member(session))

        answer = browser.get("/my/orders/999")

        assert answer.status_code == 404
        assert "Cette page n&#39;existe pas, ou vous n&#39;y avez pas accès." in answer.text
        assert "no order with id" not in answer.text

    def test_quote_pdf_of_a_submitted_order(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(session, member=member, lines=[products["camera"]], status="submitted")
        browser = pages_as("member", member=member)

        answer = browser.get(f"/my/orders/{order.id}/quote.pdf")

        assert answer.status_code == 200 and answer.mimetype == "application/pdf"
        assert f"devis-{order.reference}.pdf" in answer.headers["Content-Disposition"]
        text = pdf_text(answer.data)
        assert order.reference in text and "Caméra dôme" in text and "1 250,00 €" in text

    def test_no_quote_once_the_centre_approved_the_order(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(session, member=member, lines=[products["camera"]], status="approved")
        assert (
            pages_as("member", member=member).get(f"/my/orders/{order.id}/quote.pdf").status_code
            == 409
        )

    def test_cancel_needs_a_reason_then_cancels(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(session, member=member, lines=[products["camera"]], status="submitted")
        browser = pages_as("member", member=member)

        refused = browser.post(f"/my/orders/{order.id}/cancel", {"reason": "  "})
        assert refused.status_code == 422 and 'id="reason-error"' in refused.text
        session.refresh(order)
        assert order.status is OrderStatus.SUBMITTED

        done = browser.post(f"/my/orders/{order.id}/cancel", {"reason": "Budget non voté"})
        assert done.status_code == 302
        session.refresh(order)
        assert (order.status, order.cancellation_reason) == (
            OrderStatus.CANCELLED,
            "Budget non voté",
        )

    def test_an_approved_order_is_not_cancelled_by_a_member(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(session, member=member, lines=[products["camera"]], status="approved")

        answer = pages_as("member", member=member).post(
            f"/my/orders/{order.id}/cancel", {"reason": "Trop tard"}
        )

        assert answer.status_code == 422
        assert "demandez à ses acheteurs de l&#39;annuler" in answer.text
        session.refresh(order)
        assert order.status is OrderStatus.APPROVED

    def test_a_draft_is_completed_then_sent(self, pages_as, session, products):
        member = make_member(session, chorus_engagement_required=True)
        order = make_order(session, member=member, lines=[products["mailbox"]])
        browser = pages_as("member", member=member)

        refused = browser.post(f"/my/orders/{order.id}/submit")
        assert refused.status_code == 422
        assert 'id="engagement_number-error"' in refused.text
        session.refresh(order)
        assert order.status is OrderStatus.DRAFT

        saved = browser.post(f"/my/orders/{order.id}", {"engagement_number": "EJ-9", "note": ""})
        assert saved.status_code == 302
        assert browser.post(f"/my/orders/{order.id}/submit").status_code == 302
        session.refresh(order)
        assert (order.status, order.engagement_number) == (OrderStatus.SUBMITTED, "EJ-9")

    def test_a_line_is_removed_from_a_draft(self, pages_as, session, products):
        member = make_member(session)
        order = make_order(session, member=member, lines=[products["mailbox"], products["camera"]])
        browser = pages_as("member", member=member)
        camera_line = order.lines[1]

        answer = browser.post(f"/my/orders/{order.id}/lines/{camera_line.id}/remove")

        assert answer.status_code == 302
        session.refresh(order)
        assert [line.sku for line in order.lines] == ["MC-BOX"]


# --- My subscriptions -----------------------------------------------------------------


class TestMySubscriptions:
    def test_subscriptions_show_commissioning_quantity_and_period_price(
        self, pages_as, session, products
    ):
        member = make_member(session)
        make_order(session, member=member, lines=[(products["mailbox"], 4)], status="delivered")
        theirs = make_order(session, lines=[(products["mailbox"], 7)], status="delivered")
        browser = pages_as("member", member=member)

        page = browser.get("/my/subscriptions")

        assert page.status_code == 200
        assert "Boîte de messagerie" in page.text
        assert "01/02/2026" in page.text  # commissioned on the factory delivery date
        assert "42,16\u00a0€" in page.text  # 4 x 10,54 a month
        assert "En service" in page.text
        assert theirs.reference not in page.text and "73,78" not in page.text

    def test_filter_by_a_day_in_service(self, pages_as, session, products):
        member = make_member(session)
        make_order(session, member=member, lines=[products["mailbox"]], status="delivered")
        browser = pages_as("member", member=member)

        before = browser.get("/my/subscriptions?active_on=2026-01-10").text
        assert "Aucun abonnement" in before
        during = browser.get("/my/subscriptions?active_on=2026-03-01").text
        assert "Boîte de messagerie" in during


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["purchasing", "finance", "auditor", "admin"])
def test_member_pages_are_refused_to_other_roles(pages_as, session, products, role):
    staff = pages_as(role)
    for path in ("/cart", "/my/orders", "/my/subscriptions"):
        assert staff.get(path).status_code == 403
    assert staff.post("/cart/items", {"sku": "MC-BOX", "quantity": "1"}).status_code == 403
    assert staff.post("/cart/order", {"intent": "submit"}).status_code == 403
    assert session.scalar(select(func.count()).select_from(Order)) == 0
