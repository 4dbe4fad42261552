"""Purchasing staff follow orders from their pages: approve, send, deliver, commission, close."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from purchasing.catalog.pricing import Billing
from purchasing.fields import today_in_paris
from purchasing.formats import euros
from purchasing.members import services as member_services
from purchasing.orders.models import (
    Order,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
    Subscription,
)
from tests.documents import pdf_text
from tests.factories import make_member, make_order, make_product


@pytest.fixture
def study(session):
    """A one-off item bought 100,00 € and sold 105,38 € (margin 5,38 %)."""
    return make_product(session, name="Étude", billing=Billing.ONE_OFF, cost="100.00")


@pytest.fixture
def mailbox(session):
    """A monthly item bought 19,00 €, sold 20,02 €, with a set-up fee 290,00 € / 305,60 €."""
    return make_product(
        session,
        name="Messagerie",
        unit="boîte",
        billing=Billing.MONTHLY,
        cost="19.00",
        setup_fee_cost="290.00",
    )


def _refresh(session, order: Order) -> Order:
    session.expire_all()
    return session.get(Order, order.id)


# --- The list ---------------------------------------------------------------------------


def test_the_list_shows_the_orders_to_approve_first_with_french_amounts(pages_as, session, study):
    waiting = make_order(session, lines=[(study, 2)], status="submitted")
    draft = make_order(session, lines=[(study, 1)])

    page = pages_as("purchasing").get("/orders")

    assert page.status_code == 200
    assert waiting.reference in page.text
    assert euros(Decimal("210.76")) in page.text  # 2 x 105,38 €
    assert draft.reference not in page.text
    everything = pages_as("purchasing").get("/orders?status=")
    assert waiting.reference in everything.text and draft.reference in everything.text


def test_the_list_filters_by_status_and_member_and_paginates(pages_as, session, study):
    member = make_member(session, name="Commune de Wimereux")
    mine = [make_order(session, member=member, lines=[study], status="approved") for _ in range(3)]
    other = make_order(session, lines=[study], status="approved")
    staff = pages_as("purchasing")

    first = staff.get(f"/orders?status=approved&member_id={member.id}&per_page=2")

    assert "Commandes de Commune de Wimereux" in first.text
    assert "3 résultats · page 1 sur 2" in first.text
    assert other.reference not in first.text
    second = staff.get(f"/orders?status=approved&member_id={member.id}&per_page=2&page=2")
    shown = {o.reference for o in mine if o.reference in first.text + second.text}
    assert shown == {o.reference for o in mine}


def test_a_bad_filter_is_named_and_the_list_still_shows(pages_as, session, study):
    waiting = make_order(session, lines=[study], status="submitted")
    page = pages_as("purchasing").get("/orders?status=bogus")
    assert page.status_code == 200
    assert "Choisissez une valeur proposée." in page.text
    assert waiting.reference in page.text


# --- The detail -------------------------------------------------------------------------


def test_the_detail_shows_costs_margins_and_totals_to_the_staff(pages_as, session, study, mailbox):
    order = make_order(session, lines=[(study, 2), mailbox], status="submitted")

    page = pages_as("purchasing").get(f"/orders/{order.id}")

    assert page.status_code == 200
    text = page.text
    assert f"Commande {order.reference}" in text
    assert euros(Decimal("100.00")) in text  # supplier cost of the study
    assert euros(Decimal("10.76")) in text  # margin: 210,76 - 200,00
    assert "5,38\u00a0%" in text
    assert "Frais de mise en service" in text
    assert euros(Decimal("15.60")) in text  # set-up fee margin: 305,60 - 290,00
    assert "Approuver" in text and "Renvoyer au membre" in text


def test_finance_reads_orders_without_any_action(pages_as, session, study):
    order = make_order(session, lines=[study], status="submitted")
    finance = pages_as("finance")

    assert order.reference in finance.get("/orders").text
    page = finance.get(f"/orders/{order.id}")
    assert page.status_code == 200
    assert "Approuver" not in page.text
    assert finance.post(f"/orders/{order.id}/approve").status_code == 403
    assert _refresh(session, order).status is OrderStatus.SUBMITTED


@pytest.mark.parametrize("role", ["member", "auditor"])
def test_other_roles_cannot_open_the_staff_order_pages(pages_as, session, study, role):
    member = make_member(session)
    order = make_order(session, member=member, lines=[study], status="submitted")
    user = pages_as(role, member=member) if role == "member" else pages_as(role)

    assert user.get("/orders").status_code == 403
    assert user.get(f"/orders/{order.id}").status_code == 403
    assert user.post(f"/orders/{order.id}/approve").status_code == 403
    assert user.post(f"/orders/{order.id}/cancel", {"reason": "non"}).status_code == 403
    assert user.get(f"/members/{member.id}/subscriptions").status_code == 403
    assert _refresh(session, order).status is OrderStatus.SUBMITTED


def test_an_unknown_order_is_a_404_page(pages_as):
    assert pages_as("purchasing").get("/orders/999999").status_code == 404


def test_the_quote_of_a_submitted_order_downloads_as_a_pdf(pages_as, session, study):
    order = make_order(session, lines=[(study, 2)], status="submitted")

    answer = pages_as("purchasing").get(f"/orders/{order.id}/quote.pdf")

    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    text = pdf_text(answer.data)
    assert order.reference in text
    assert "210,76 €" in text


# --- The lifecycle ----------------------------------------------------------------------


def test_approving_issues_the_purchase_orders_and_says_so(pages_as, session, study):
    order = make_order(session, lines=[study], status="submitted")
    staff = pages_as("purchasing")

    answer = staff.post(f"/orders/{order.id}/approve")

    assert answer.status_code == 303
    assert _refresh(session, order).status is OrderStatus.APPROVED
    purchase_order = session.query(PurchaseOrder).filter_by(order_id=order.id).one()
    page = staff.get(answer.headers["Location"])
    assert "approuvée" in page.text
    assert purchase_order.number in page.text


def test_a_refused_approval_is_said_and_changes_nothing(pages_as, session, study):
    member = make_member(session)
    order = make_order(session, member=member, lines=[study], status="submitted")
    member_services.suspend_adhesion(session, member.id, reason="impayés", actor=None)
    staff = pages_as("purchasing")

    answer = staff.post(f"/orders/{order.id}/approve", follow_redirects=True)

    assert "Opération refusée" in answer.text
    assert "Seul un membre actif peut commander" in answer.text
    assert "est suspendue." in answer.text and "suspended" not in answer.text
    assert _refresh(session, order).status is OrderStatus.SUBMITTED
    assert session.query(PurchaseOrder).filter_by(order_id=order.id).count() == 0


def test_a_transition_the_status_does_not_allow_is_refused(pages_as, session, study):
    order = make_order(session, lines=[study])  # a draft
    answer = pages_as("purchasing").post(f"/orders/{order.id}/close", follow_redirects=True)
    assert "Opération refusée" in answer.text
    assert _refresh(session, order).status is OrderStatus.DRAFT


def test_returning_an_order_to_its_member_needs_a_reason(pages_as, session, study):
    order = make_order(session, lines=[study], status="submitted")
    staff = pages_as("purchasing")

    refused = staff.post(f"/orders/{order.id}/return", {"reason": "  "})

    assert refused.status_code == 422
    assert 'id="reason-error"' in refused.text
    assert _refresh(session, order).status is OrderStatus.SUBMITTED

    answer = staff.post(f"/orders/{order.id}/return", {"reason": "Précisez le site de livraison"})

    assert answer.status_code == 302
    returned = _refresh(session, order)
    assert returned.status is OrderStatus.DRAFT
    assert returned.return_reason == "Précisez le site de livraison"


def test_cancelling_an_approved_order_cancels_its_purchase_orders(pages_as, session, study):
    order = make_order(session, lines=[study], status="approved")
    staff = pages_as("purchasing")
    assert "Annuler la commande" in staff.get(f"/orders/{order.id}").text

    answer = staff.post(f"/orders/{order.id}/cancel", {"reason": "Budget non voté"})

    assert answer.status_code == 302
    cancelled = _refresh(session, order)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.cancellation_reason == "Budget non voté"
    assert {po.status for po in cancelled.purchase_orders} == {PurchaseOrderStatus.CANCELLED}


def test_a_sent_order_can_no_longer_be_cancelled(pages_as, session, study):
    order = make_order(session, lines=[study], status="ordered")
    staff = pages_as("purchasing")
    assert "Annuler la commande" not in staff.get(f"/orders/{order.id}").text

    refused = staff.post(f"/orders/{order.id}/cancel", {"reason": "Trop tard"})

    assert refused.status_code == 422
    # The lifecycle's refusal, above the form, in French.
    assert "Impossible de faire passer la commande de « commandée » à « annulée »." in (
        refused.text
    )
    assert "cannot go from" not in refused.text
    assert 'value="Trop tard"' in refused.text or ">Trop tard</textarea>" in refused.text
    assert _refresh(session, order).status is OrderStatus.ORDERED


def test_sending_an_approved_order_sends_its_purchase_orders(pages_as, session, study):
    order = make_order(session, lines=[study], status="approved")

    answer = pages_as("purchasing").post(f"/orders/{order.id}/send")

    assert answer.status_code == 303
    sent = _refresh(session, order)
    assert sent.status is OrderStatus.ORDERED
    assert {po.status for po in sent.purchase_orders} == {PurchaseOrderStatus.SENT}


def test_a_delivery_is_recorded_from_the_order_page(pages_as, session, study):
    order = make_order(session, lines=[(study, 2)], status="ordered")
    line = order.lines[0]
    staff = pages_as("purchasing")
    detail = staff.get(f"/orders/{order.id}")
    assert f"/orders/{order.id}/lines/{line.id}/delivery" in detail.text

    answer = staff.post(
        f"/orders/{order.id}/lines/{line.id}/delivery",
        {"quantity": "1", "delivered_on": date(2026, 2, 3).isoformat()},
    )

    assert answer.status_code == 302
    delivered = _refresh(session, order)
    assert delivered.lines[0].delivered_quantity == Decimal("1")
    assert delivered.status is OrderStatus.PARTLY_DELIVERED
    assert "Livré : 1 / 2" in staff.get(f"/orders/{order.id}").text


def test_a_refused_delivery_keeps_what_was_typed_and_changes_nothing(pages_as, session, study):
    order = make_order(session, lines=[(study, 2)], status="ordered")
    line = order.lines[0]

    refused = pages_as("purchasing").post(
        f"/orders/{order.id}/lines/{line.id}/delivery",
        {"quantity": "5", "delivered_on": date(2026, 2, 3).isoformat()},
    )

    assert refused.status_code == 422
    assert re.search(
        r'<p class="error" id="quantity-error">Il ne reste que 2 à livrer', refused.text
    )
    assert 'value="5"' in refused.text
    unchanged = _refresh(session, order)
    assert unchanged.lines[0].delivered_quantity == 0
    assert unchanged.status is OrderStatus.ORDERED


def test_commissioning_starts_the_subscription_then_the_order_closes(pages_as, session, mailbox):
    order = make_order(session, lines=[(mailbox, 3)], status="ordered")
    line = order.lines[0]
    staff = pages_as("purchasing")

    answer = staff.post(
        f"/orders/{order.id}/lines/{line.id}/commissioning",
        {"commissioned_on": date(2026, 2, 2).isoformat()},
    )

    assert answer.status_code == 302
    subscription = session.query(Subscription).filter_by(order_line_id=line.id).one()
    assert subscription.start_date == date(2026, 2, 2)
    detail = staff.get(f"/orders/{order.id}")
    assert "Mis en service le 02/02/2026" in detail.text
    assert _refresh(session, order).status is OrderStatus.DELIVERED

    closed = staff.post(f"/orders/{order.id}/close")
    assert closed.status_code == 303
    assert _refresh(session, order).status is OrderStatus.CLOSED


def test_a_commissioning_in_the_future_is_refused_next_to_the_date(pages_as, session, mailbox):
    order = make_order(session, lines=[mailbox], status="ordered")
    line = order.lines[0]
    tomorrow = (today_in_paris() + timedelta(days=1)).isoformat()

    refused = pages_as("purchasing").post(
        f"/orders/{order.id}/lines/{line.id}/commissioning", {"commissioned_on": tomorrow}
    )

    assert refused.status_code == 422
    assert 'id="commissioned_on-error">Ne peut pas être dans le futur.' in refused.text
    assert f'value="{tomorrow}"' in refused.text
    assert session.query(Subscription).filter_by(order_line_id=line.id).count() == 0


def test_a_members_subscriptions_are_listed_with_their_prices(pages_as, session, mailbox):
    member = make_member(session, name="Commune de Marquise")
    order = make_order(session, member=member, lines=[(mailbox, 3)], status="delivered")

    page = pages_as("purchasing").get(f"/members/{member.id}/subscriptions")

    assert page.status_code == 200
    assert "Abonnements de Commune de Marquise" in page.text
    assert order.reference in page.text
    assert euros(Decimal("20.02")) + " / mois" in page.text
    assert "En service" in page.text
